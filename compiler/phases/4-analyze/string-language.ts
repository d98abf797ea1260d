// Strings as regular languages (refa DFAs over Unicode code points), plus length bounds kept as an
// interval; emptiness and a readable witness word come from one breadth-first search.

import { DFA, JS, NFA, TooManyNodesError, Words, type CharRange } from "refa";

const MAX_CHARACTER = 0x10ffff;
/** Upper bound on automaton size for one field; beyond it the constraint is reported as too complex. */
const NODE_LIMIT = 20_000;

export class TooComplexError extends Error {}

const languageCache = new Map<string, DFA>();

/**
 * The DFA whose words are the full matches of `source` (an anchor-free expression, `u` flag; with
 * `ignoreCase`, the `iu` flags: Unicode simple case folding, as RegExp and the generated code compare).
 */
export function languageOf(source: string, ignoreCase = false): DFA {
  const key = `${ignoreCase ? "i" : ""}/${source}`;
  let dfa = languageCache.get(key);
  if (dfa === undefined) {
    const flags = ignoreCase ? "iu" : "u";
    const { expression, maxCharacter } = JS.Parser.fromLiteral({ source, flags }).parse({ backreferences: "throw", assertions: "throw" });
    dfa = guard(() => DFA.fromFA(NFA.fromRegex(expression, { maxCharacter }, { assertions: "throw" }), new DFA.LimitedNodeFactory(NODE_LIMIT)));
    dfa.minimize();
    languageCache.set(key, dfa);
  }
  return dfa;
}

export function complementOf(dfa: DFA): DFA {
  const copy = dfa.copy();
  copy.complement();
  return copy;
}

export function finiteLanguage(words: readonly string[]): DFA {
  const dfa = guard(() => DFA.fromWords(words.map((w) => Words.fromStringToUnicode(w)), { maxCharacter: MAX_CHARACTER }, new DFA.LimitedNodeFactory(NODE_LIMIT)));
  dfa.minimize();
  return dfa;
}

export function intersectAll(dfas: readonly DFA[]): DFA {
  if (dfas.length === 0) return DFA.all({ maxCharacter: MAX_CHARACTER });
  let result = dfas[0]!;
  for (const next of dfas.slice(1)) {
    result = guard(() => DFA.fromIntersection(result, next, new DFA.LimitedNodeFactory(NODE_LIMIT)));
    result.minimize();
  }
  return result;
}

function guard<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof TooManyNodesError) throw new TooComplexError("automaton too large");
    throw error;
  }
}

/**
 * The shortest (then most readable) word of `dfa` whose length in code points lies in [minLength, maxLength],
 * or undefined when there is none. Lengths at or above minLength are merged into one search layer, so the
 * search visits at most (states × (minLength + 1)) positions.
 */
export function shortestWord(dfa: DFA, minLength: number, maxLength: number): string | undefined {
  type Step = { node: DFA.ReadonlyNode; length: number; parent: Step | undefined; char: number };
  const seen = new Set<string>();
  const ids = new Map<DFA.ReadonlyNode, number>();
  const id = (node: DFA.ReadonlyNode) => {
    let n = ids.get(node);
    if (n === undefined) ids.set(node, (n = ids.size));
    return n;
  };
  let layer: Step[] = [{ node: dfa.initial, length: 0, parent: undefined, char: -1 }];
  seen.add(`${id(dfa.initial)}:0`);
  while (layer.length > 0) {
    for (const step of layer) {
      if (step.length >= minLength && dfa.finals.has(step.node as DFA.Node)) return spell(step);
    }
    const next: Step[] = [];
    for (const step of layer) {
      for (const [char, to] of readableTransitions(step.node)) {
        const length = step.length + 1;
        const key = `${id(to)}:${Math.min(length, minLength)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        next.push({ node: to, length, parent: step, char });
      }
    }
    layer = next;
    if ((layer[0]?.length ?? 0) > maxLength) return undefined;
  }
  return undefined;

  function spell(step: Step): string {
    const chars: number[] = [];
    for (let s: Step | undefined = step; s?.parent !== undefined; s = s.parent) chars.push(s.char);
    return String.fromCodePoint(...chars.reverse());
  }
}

const READABLE = [..."abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-.@ /:"].map((c) => c.codePointAt(0)!);

/** Transitions with one representative character each, the most readable first. */
function readableTransitions(node: DFA.ReadonlyNode): Array<[number, DFA.ReadonlyNode]> {
  const out: Array<[number, DFA.ReadonlyNode, number]> = [];
  for (const [range, to] of node.out as Iterable<[CharRange, DFA.ReadonlyNode]>) {
    const rank = READABLE.findIndex((c) => c >= range.min && c <= range.max);
    const char = rank === -1 ? printableIn(range) : READABLE[rank]!;
    out.push([char, to, rank === -1 ? READABLE.length : rank]);
  }
  out.sort((a, b) => a[2] - b[2] || a[0] - b[0]);
  return out.map(([char, to]) => [char, to]);
}

/** The first character of a range that is not a control or surrogate, else its first character. */
function printableIn(range: CharRange): number {
  for (const start of [0x21, 0xa1, 0xe000]) {
    const c = Math.max(range.min, start);
    if (c <= range.max && !(c >= 0xd800 && c <= 0xdfff)) return c;
  }
  return range.min;
}
