// Runs a regular expression the compiler turned into a deterministic automaton: one table step per code
// point, so a match costs time linear in the input whatever the pattern (docs/policy-semantics.md).

/**
 * A minimal DFA over Unicode code points, as the compiler emits it. Code points are grouped into classes
 * that every state treats alike: the code points from `starts[k]` up to `starts[k + 1] - 1` (the last
 * up to U+10FFFF) are in class `classes[k]`. `next[state][class]` is the next state, or -1 when no
 * continuation can match. State 0 is the initial state.
 */
export interface DfaTable {
  readonly starts: readonly number[];
  readonly classes: readonly number[];
  readonly next: readonly (readonly number[])[];
  readonly accepting: readonly number[];
}

/** What the generated code and ajv's `pattern` keyword call: the shape of RegExp#test. */
export interface StringPattern {
  test(value: string): boolean;
}

const ASCII = 128;

export class DfaMatcher implements StringPattern {
  readonly #starts: Int32Array;
  readonly #classes: Int32Array;
  readonly #asciiClass = new Int32Array(ASCII);
  readonly #width: number;
  readonly #next: Int32Array;
  readonly #accepting: Uint8Array;
  /** States that accept and never leave: whatever follows, the answer is a match. */
  readonly #acceptsRest: Uint8Array;

  constructor(table: DfaTable) {
    const states = table.next.length;
    this.#width = table.next[0]?.length ?? 0;
    const malformed =
      states === 0 ||
      table.starts.length !== table.classes.length ||
      table.starts[0] !== 0 ||
      table.starts.some((start, i) => i > 0 && start <= table.starts[i - 1]!) ||
      table.classes.some((k) => !Number.isInteger(k) || k < 0 || k >= this.#width) ||
      table.accepting.some((state) => !Number.isInteger(state) || state < 0 || state >= states);
    if (malformed) throw new Error("malformed DFA table");
    this.#starts = Int32Array.from(table.starts);
    this.#classes = Int32Array.from(table.classes);
    this.#next = new Int32Array(states * this.#width);
    this.#accepting = new Uint8Array(states);
    this.#acceptsRest = new Uint8Array(states);
    for (const [state, row] of table.next.entries()) {
      if (row.length !== this.#width || row.some((to) => to < -1 || to >= states)) throw new Error("malformed DFA table");
      this.#next.set(row, state * this.#width);
    }
    for (const state of table.accepting) this.#accepting[state] = 1;
    for (let state = 0; state < states; state++) {
      this.#acceptsRest[state] = this.#accepting[state] === 1 && table.next[state]!.every((to) => to === state) ? 1 : 0;
    }
    for (let c = 0; c < ASCII; c++) this.#asciiClass[c] = this.#searchClass(c);
  }

  /** Whether `value` is in the language: code points as the `u` flag reads them (a lone surrogate is one). */
  test(value: string): boolean {
    // Locals, not fields, in the loop: this is the hot path of every pattern condition.
    const next = this.#next;
    const width = this.#width;
    const asciiClass = this.#asciiClass;
    const acceptsRest = this.#acceptsRest;
    const n = value.length;
    let state = 0;
    if (acceptsRest[0] === 1) return true;
    for (let i = 0; i < n; i++) {
      let c = value.charCodeAt(i);
      let k: number;
      if (c < ASCII) k = asciiClass[c]!;
      else {
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
          const low = value.charCodeAt(i + 1);
          if (low >= 0xdc00 && low <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
            i++;
          }
        }
        k = this.#searchClass(c);
      }
      state = next[state * width + k]!;
      if (state < 0) return false;
      if (acceptsRest[state] === 1) return true;
    }
    return this.#accepting[state] === 1;
  }

  #searchClass(c: number): number {
    const starts = this.#starts;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (starts[mid]! <= c) low = mid;
      else high = mid - 1;
    }
    return this.#classes[low]!;
  }
}

/**
 * The `code.regExp` engine of a generated ajv validator: ajv asks for a pattern by its source, and gets
 * the automaton compiled for it. A source the compiler did not compile fails at load, never falls back.
 */
export function compiledPatterns(bySource: ReadonlyArray<readonly [string, DfaMatcher]>): (source: string) => StringPattern {
  const table = new Map(bySource);
  return (source) => {
    const matcher = table.get(source);
    if (matcher === undefined) throw new Error(`no compiled automaton for pattern ${JSON.stringify(source)}`);
    return matcher;
  };
}
