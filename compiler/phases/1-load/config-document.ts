// One YAML document of a config file: its plain value, and the source span of any path inside it.

import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
import type { Span } from "../../diagnostics/diagnostic.js";

export type PathSegment = string | number;
export type DocumentPath = readonly PathSegment[];

export class ConfigDocument {
  constructor(
    /** Display path, relative to the config root, with `/` separators. */
    readonly file: string,
    /** 0-based index of the document within its file. */
    readonly index: number,
    readonly value: unknown,
    private readonly document: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The same document with another plain value (e.g. with its broken parts left out); spans are unchanged. */
  withValue(value: unknown): ConfigDocument {
    return new ConfigDocument(this.file, this.index, value, this.document, this.lines);
  }

  /**
   * The span of the value at `path` (or of its key, when `key` is set). A path that does not exist
   * resolves to the deepest node that does, so a diagnostic always has a place to point at.
   */
  spanAt(path: DocumentPath, part: "value" | "key" = "value"): Span {
    let node: unknown = this.document.contents;
    let keyNode: unknown;
    for (const segment of path) {
      const next = child(node, segment);
      if (next === undefined) {
        keyNode = undefined;
        break;
      }
      node = next.value;
      keyNode = next.key;
    }
    const target = part === "key" && keyNode !== undefined ? keyNode : node;
    return this.spanOfNode(target as Node | undefined);
  }

  spanOfNode(node: Node | undefined | null): Span {
    const range = node?.range;
    if (!range) return { file: this.file, line: 1, column: 1, length: 1 };
    const start = this.lines.linePos(range[0]);
    const end = this.lines.linePos(Math.max(range[0] + 1, range[1]));
    const length = end.line === start.line ? Math.max(1, end.col - start.col) : 1;
    return { file: this.file, line: start.line, column: start.col, length };
  }
}

function child(node: unknown, segment: PathSegment): { key: unknown; value: unknown } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (isPair(pair) && keyValue(pair.key) === String(segment)) return { key: pair.key, value: pair.value ?? pair.key };
    }
    return undefined;
  }
  if (isSeq(node) && typeof segment === "number") {
    const item = node.items[segment];
    return item === undefined ? undefined : { key: item, value: item };
  }
  return undefined;
}

function keyValue(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}
