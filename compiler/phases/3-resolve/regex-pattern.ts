// Decides whether a regular expression can be analysed as a regular language, gives the anchor-free
// language that its search semantics (RegExp#test, `u` flag) accept, and compiles it to the bounded DFA
// the runtime matches with (linear by construction; scslre's verdict only guards consumers of the schema).

import { RegExpParser, visitRegExpAST, type AST } from "@eslint-community/regexpp";
import { TooManyNodesError } from "refa";
import { analyse } from "scslre";
import type { Code } from "../../diagnostics/codes.js";
import { MATCHER_STATE_LIMIT, patternAutomaton } from "./pattern-automaton.js";
import type { AnalysablePattern } from "./resolved-config.js";

/** Escapes literal text for a regular expression (valid with and without the `u` flag). */
export function escapeLiteral(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

export type PatternCheck = { ok: true; pattern: AnalysablePattern } | { ok: false; code: Code; message: string; hint?: string };

const cache = new Map<string, PatternCheck>();

/** `ignoreCase` (a condition's `ignore_case: true`) compiles the pattern with the `i` flag as well. */
export function checkPattern(source: string, options: { ignoreCase?: boolean } = {}): PatternCheck {
  const flags = options.ignoreCase === true ? "iu" : "u";
  const key = `${flags}/${source}`;
  let result = cache.get(key);
  if (result === undefined) {
    result = check(source, flags);
    cache.set(key, result);
  }
  return result;
}

function check(source: string, flags: "u" | "iu"): PatternCheck {
  try {
    new RegExp(source, flags);
  } catch (error) {
    const reason = (error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
    return { ok: false, code: "KR3018", message: `invalid regular expression \`${source}\`: ${reason}` };
  }
  // The parsers and analysers below recurse on the pattern's nesting (thousands of groups would overflow
  // the stack) and bound the nodes they make: such a pattern is too complex, said so, never a stack trace.
  try {
    return analysedPattern(source, flags);
  } catch (error) {
    if (!(error instanceof RangeError) && !(error instanceof TooManyNodesError)) throw error;
    const shown = source.length > 80 ? `${source.slice(0, 80)}…` : source;
    return { ok: false, code: "KR3024", message: `regular expression \`${shown}\` is ${error instanceof RangeError ? "nested too deeply" : "too large"} to analyse` };
  }
}

function analysedPattern(source: string, flags: "u" | "iu"): PatternCheck {
  const ast = new RegExpParser({ ecmaVersion: 2024 }).parsePattern(source, 0, source.length, { unicode: true });
  const unsupported = findUnsupported(ast);
  if (unsupported !== undefined) {
    return { ok: false, code: "KR3019", message: `regular expression \`${source}\` cannot be analysed: it uses ${unsupported}` };
  }
  const reports = analyse({ source, flags }, { maxReports: 1 }).reports;
  const report = reports[0];
  if (report !== undefined) {
    const attack = report.character.pick.repeat(3);
    return {
      ok: false,
      code: "KR3020",
      message: `regular expression \`${source}\` can take super-linear time (${report.exponential ? "exponential" : "polynomial"} backtracking on input like "${attack}…")`,
      // Anchoring helps only a pattern that is not anchored yet.
      ...(source.startsWith("^") ? { hint: "the pattern can match the same text in more than one way (e.g. a repetition inside a repetition); remove the ambiguity, e.g. `(a+)+` → `a+`" } : {}),
    };
  }
  const language = searchLanguage(source, ast);
  const automaton = patternAutomaton(language, flags);
  if (!automaton.ok) {
    const size = automaton.states === undefined ? `more than ${MATCHER_STATE_LIMIT}` : `${automaton.states}`;
    return {
      ok: false,
      code: "KR3024",
      message: `regular expression \`${source}\` needs a deterministic automaton of ${size} states, over the limit of ${MATCHER_STATE_LIMIT}`,
    };
  }
  return { ok: true, pattern: { source, flags, language, matcher: automaton.table } };
}

/** Names the first construct that is not a regular-language operator we can decide, if any. */
function findUnsupported(ast: AST.Pattern): string | undefined {
  const edgeAnchors = new Set<AST.Node>();
  for (const alternative of ast.alternatives) {
    const { elements } = alternative;
    for (let i = 0; i < elements.length && isAnchor(elements[i], "start"); i++) edgeAnchors.add(elements[i]!);
    for (let i = elements.length - 1; i >= 0 && isAnchor(elements[i], "end"); i--) edgeAnchors.add(elements[i]!);
  }
  let found: string | undefined;
  const note = (what: string) => (found ??= what);
  visitRegExpAST(ast, {
    onBackreferenceEnter: (node) => note(`a back-reference (\`${node.raw}\`)`),
    onAssertionEnter: (node) => {
      if (node.kind === "lookahead" || node.kind === "lookbehind") note(`a look-around (\`${node.raw}\`)`);
      else if (node.kind === "word") note(`a word boundary (\`${node.raw}\`)`);
      else if (!edgeAnchors.has(node)) note(`an anchor (\`${node.raw}\`) that is not at the start or end of the pattern`);
    },
  });
  return found;
}

function isAnchor(node: AST.Node | undefined, kind: "start" | "end"): boolean {
  return node?.type === "Assertion" && node.kind === kind;
}

/** The search language of a pattern that parses (no other checks): for tests of the automaton. */
export function searchLanguageOf(source: string): string {
  return searchLanguage(source, new RegExpParser({ ecmaVersion: 2024 }).parsePattern(source, 0, source.length, { unicode: true }));
}

function searchLanguage(source: string, ast: AST.Pattern): string {
  const any = "[\\s\\S]*";
  return ast.alternatives
    .map((alternative) => {
      const body = alternative.elements.filter((e) => !isAnchor(e, "start") && !isAnchor(e, "end"));
      const anchoredStart = isAnchor(alternative.elements[0], "start");
      const anchoredEnd = isAnchor(alternative.elements.at(-1), "end");
      const text = body.length === 0 ? "" : source.slice(body[0]!.start, body.at(-1)!.end);
      return `${anchoredStart ? "" : any}(?:${text})${anchoredEnd ? "" : any}`;
    })
    .join("|");
}
