// Turns a pattern's search language into the minimal DFA table the runtime matches with (contract/
// dfa-match.ts), numbered canonically so that the generated code is deterministic; bounded in states.

import { DFA, JS, NFA, TooManyNodesError, type CharRange } from "refa";
import type { DfaTable } from "../../../runtime-template/contract/dfa-match.js";

/** Most states a pattern's minimal DFA may have; beyond it `check` rejects the pattern (KR3024). */
export const MATCHER_STATE_LIMIT = 2_000;
/** Bound on the subset construction before minimisation, so that `check` itself stays fast. */
const CONSTRUCTION_LIMIT = 20_000;
const MAX_CHARACTER = 0x10ffff;

export type AutomatonResult = { ok: true; table: DfaTable } | { ok: false; states: number | undefined };

/**
 * The table of the DFA whose words are the full matches of `language` (anchor-free; `flags` as the
 * pattern's, `u` always and `i` for a case-insensitive condition), or the reason it is over the limit.
 */
export function patternAutomaton(language: string, flags = "u"): AutomatonResult {
  const { expression, maxCharacter } = JS.Parser.fromLiteral({ source: language, flags }).parse({ backreferences: "throw", assertions: "throw" });
  let dfa: DFA;
  try {
    dfa = DFA.fromFA(NFA.fromRegex(expression, { maxCharacter }, { assertions: "throw" }), new DFA.LimitedNodeFactory(CONSTRUCTION_LIMIT));
  } catch (error) {
    if (error instanceof TooManyNodesError) return { ok: false, states: undefined };
    throw error;
  }
  dfa.minimize();
  const states = dfa.countNodes();
  if (states > MATCHER_STATE_LIMIT) return { ok: false, states };
  return { ok: true, table: tableOf(dfa) };
}

function tableOf(dfa: DFA): DfaTable {
  // Breadth-first from the initial state, transitions in code point order: a canonical numbering.
  const ids = new Map<DFA.ReadonlyNode, number>([[dfa.initial, 0]]);
  const order: DFA.ReadonlyNode[] = [dfa.initial];
  const edges = (node: DFA.ReadonlyNode) => [...(node.out.entries() as Iterable<[CharRange, DFA.ReadonlyNode]>)].sort((a, b) => a[0].min - b[0].min);
  for (let i = 0; i < order.length; i++) {
    for (const [, to] of edges(order[i]!)) {
      if (!ids.has(to)) {
        ids.set(to, order.length);
        order.push(to);
      }
    }
  }
  // Cut the code points where any state's transitions change, then merge the pieces every state treats alike.
  const cuts = new Set<number>([0]);
  for (const node of order) {
    for (const [range] of edges(node)) {
      cuts.add(range.min);
      if (range.max < MAX_CHARACTER) cuts.add(range.max + 1);
    }
  }
  const pieces = [...cuts].sort((a, b) => a - b);
  const classByColumn = new Map<string, number>();
  const columns: number[][] = [];
  const pieceClass = pieces.map((start) => {
    const column = order.map((node) => {
      const to = node.out.get(start);
      return to === undefined ? -1 : ids.get(to)!;
    });
    const key = column.join(",");
    let k = classByColumn.get(key);
    if (k === undefined) {
      classByColumn.set(key, (k = columns.length));
      columns.push(column);
    }
    return k;
  });
  // Adjacent pieces of one class are one interval.
  const starts: number[] = [];
  const classes: number[] = [];
  pieces.forEach((start, i) => {
    if (classes.at(-1) !== pieceClass[i]) {
      starts.push(start);
      classes.push(pieceClass[i]!);
    }
  });
  return {
    starts,
    classes,
    next: order.map((_, state) => columns.map((column) => column[state]!)),
    accepting: order.flatMap((node, state) => (dfa.finals.has(node as DFA.Node) ? [state] : [])),
  };
}
