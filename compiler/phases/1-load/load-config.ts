// Phase 1: read the tool and policy files and parse every YAML document with source positions.
// This is the only phase that reads files.

import { existsSync, lstatSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { DiagnosticLog } from "../../diagnostics/diagnostic.js";
import { ConfigDocument } from "./config-document.js";
import { plainYamlProblem } from "./yaml-problem.js";
import { folderOutside, readFileInside, realFolder } from "./config-file.js";

/** `context` is the optional context.yaml at the config root (deployment context keys and values). */
export type ConfigKind = "tool" | "policy" | "context";

export interface SourceFile {
  /** Display path, relative to the config root, with `/` separators. */
  readonly path: string;
  readonly kind: ConfigKind;
  readonly text: string;
}

export interface LoadedConfig {
  readonly sources: ReadonlyMap<string, string>;
  readonly tools: readonly ConfigDocument[];
  readonly policies: readonly ConfigDocument[];
  /** context.yaml, when the config has one and it parsed. */
  readonly context?: ConfigDocument | undefined;
  /** Tool names found in documents that could not be parsed, so references to them are not reported twice. */
  readonly unparsedToolNames: ReadonlySet<string>;
  /** The tool folder was not read (missing, or refused): every tool reference would be unknown, so none is reported. */
  readonly toolFolderMissing: boolean;
}

export interface ConfigLocation {
  /** The config root (default `.`); display paths are relative to it. */
  readonly dir: string;
  /** Tool folder (default `DIR/tools`). */
  readonly tools?: string | undefined;
  /** Policy folder (default `DIR/policies`). */
  readonly policies?: string | undefined;
}

/** The files read, and the kinds whose folder could not be read at all (missing, or refused). */
export function readConfigFiles(location: ConfigLocation, log: DiagnosticLog): { files: SourceFile[]; unreadFolders: Set<ConfigKind> } {
  const root = resolve(location.dir);
  const realRoot = realFolder(root);
  // A folder named on the command line is read wherever it is; a default one only inside the config.
  const folders: Array<[ConfigKind, string, string | undefined]> = [
    ["tool", resolve(root, location.tools ?? "tools"), location.tools === undefined ? "--tools" : undefined],
    ["policy", resolve(root, location.policies ?? "policies"), location.policies === undefined ? "--policies" : undefined],
  ];
  const files: SourceFile[] = [];
  const unreadFolders = new Set<ConfigKind>();
  const contextFile = resolve(root, "context.yaml");
  if (lstatSync(contextFile, { throwIfNoEntry: false }) !== undefined) {
    const text = readConfigFile(contextFile, displayPath(root, contextFile), [realRoot], log);
    if (text !== undefined) files.push({ path: displayPath(root, contextFile), kind: "context", text });
  }
  for (const [kind, folder, defaultOption] of folders) {
    const display = displayPath(root, folder);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      log.report("KR1002", { file: display, line: 1, column: 1, length: 1 }, `${kind} folder not found: ${display}/`);
      unreadFolders.add(kind);
      continue;
    }
    const outside = defaultOption === undefined ? undefined : folderOutside(folder, display, realRoot);
    if (outside !== undefined) {
      log.report("KR1004", { file: display, line: 1, column: 1, length: 1 }, `${outside}: KeyRunner reads only folders inside it; to read a folder elsewhere, name it with ${defaultOption}`);
      unreadFolders.add(kind);
      continue;
    }
    const within = defaultOption === undefined ? [realRoot, realFolder(folder)] : [realRoot];
    for (const name of readdirSync(folder).filter((n) => /\.ya?ml$/.test(n)).sort()) {
      const path = join(folder, name);
      const text = readConfigFile(path, displayPath(root, path), within, log);
      if (text !== undefined) files.push({ path: displayPath(root, path), kind, text });
    }
  }
  return { files, unreadFolders };
}

/** A config file's text, or a KR1004 error naming what it is instead (config-file.ts). */
function readConfigFile(path: string, display: string, within: readonly string[], log: DiagnosticLog): string | undefined {
  const read = readFileInside(path, display, within);
  if ("text" in read) return read.text;
  log.report("KR1004", { file: display, line: 1, column: 1, length: 1 }, read.problem);
  return undefined;
}

/** A tool's name line, found in a file that did not parse, so references to the tool are not reported as unknown. */
const TOOL_NAME_LINE = /^tool:\s*["']?([a-z][a-z0-9_]*)/gm;

/** Parses already-read sources; the in-memory entry point used by the SDK and tests. */
export function parseConfigSources(files: readonly SourceFile[], log: DiagnosticLog): LoadedConfig {
  const sources = new Map<string, string>();
  const tools: ConfigDocument[] = [];
  const policies: ConfigDocument[] = [];
  let context: ConfigDocument | undefined;
  const unparsedToolNames = new Set<string>();
  for (const file of files) {
    sources.set(file.path, file.text);
    const lines = new LineCounter();
    const documents = parseAllDocuments(file.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    const list = Array.isArray(documents) ? documents : [documents];
    list.forEach((document, index) => {
      const problems = [...document.errors];
      // One diagnostic a line: the parser often reports one slip several times over.
      const reportedLines = new Set<number>();
      for (const problem of problems) {
        const pos = lines.linePos(problem.pos[0]);
        const plain = plainYamlProblem(problem.code, problem.message, file.text, pos.line, pos.col, Math.max(1, problem.pos[1] - problem.pos[0]));
        if (reportedLines.has(plain.line)) continue;
        reportedLines.add(plain.line);
        const lineText = file.text.split(/\r?\n/)[plain.line - 1] ?? "";
        // `{ type: string[] }` reads as the start of a list inside a flow map: the commonest slip.
        const hint = /\{[^}]*\b(string|number|integer)\[\]/.test(lineText) ? 'inside `{ }`, quote list types: `type: "string[]"`' : undefined;
        log.report("KR1001", { file: file.path, line: plain.line, column: plain.column, length: plain.length }, plain.message, { hint });
      }
      if (problems.length > 0 && file.kind === "tool") {
        for (const match of file.text.matchAll(TOOL_NAME_LINE)) unparsedToolNames.add(match[1]!);
      }
      if (problems.length > 0 || document.contents === null) return;
      let value: unknown;
      try {
        value = document.toJS();
      } catch (error) {
        // An alias expanded past the parser's limit (a "billion laughs" document) or a similar refusal.
        const pos = lines.linePos(document.range[0]);
        log.report("KR1001", { file: file.path, line: pos.line, column: pos.col, length: 1 }, `this document cannot be read: ${(error as Error).message}`);
        if (file.kind === "tool") for (const match of file.text.matchAll(TOOL_NAME_LINE)) unparsedToolNames.add(match[1]!);
        return;
      }
      const doc = new ConfigDocument(file.path, index, value, document, lines);
      if (file.kind === "context") context ??= doc;
      else (file.kind === "tool" ? tools : policies).push(doc);
    });
  }
  return { sources, tools, policies, context, unparsedToolNames, toolFolderMissing: false };
}

export function loadConfig(location: ConfigLocation, log: DiagnosticLog): LoadedConfig {
  const { files, unreadFolders } = readConfigFiles(location, log);
  const loaded = { ...parseConfigSources(files, log), toolFolderMissing: unreadFolders.has("tool") };
  if (loaded.tools.length === 0 && !log.hasErrors()) {
    log.report("KR1003", { file: displayPath(resolve(location.dir), resolve(location.dir, location.tools ?? "tools")), line: 1, column: 1, length: 1 }, "no tools defined");
  }
  return loaded;
}

function displayPath(root: string, path: string): string {
  const rel = relative(root, path);
  return (rel === "" ? "." : rel).split(sep).join("/");
}
