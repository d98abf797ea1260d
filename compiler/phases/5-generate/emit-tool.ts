// One tool's handler module: typed input, validator binding, the policy decision inlined as plain
// conditions (each rule commented with its YAML file and line), and the request plan builder.

import { inDocComment, inLineComment } from "./comment-text.js";
import { VariableDeclarationKind, type Project } from "ts-morph";
import type { InputField, ResolvedRule, ResolvedTool } from "../3-resolve/resolved-config.js";
import { failureChecks, ModuleConstants, ruleExpression } from "./emit-conditions.js";
import { execPlan, httpPlan, pathPattern } from "./emit-plan.js";
import { inputJsonSchema } from "./input-json-schema.js";
import { RUNTIME } from "./runtime-path.js";

const literal = (value: unknown) => JSON.stringify(value);

export function typeName(tool: ResolvedTool): string {
  return `${tool.name.replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())}Input`;
}

function tsType(field: InputField): string {
  const scalar = field.type === "integer" ? "number" : field.type;
  return field.array ? `${scalar}[]` : scalar;
}

function describeAgents(rule: ResolvedRule): string {
  return rule.agents === "all" ? "every agent" : rule.agents.join(", ");
}

export function emitTool(project: Project, tool: ResolvedTool, rules: readonly ResolvedRule[]): string {
  const file = project.createSourceFile(`tools/${tool.name}.ts`, "", { overwrite: true });
  const input = typeName(tool);
  const constants = new ModuleConstants();
  const ruleBlocks = rules.map((rule, index) => ({ rule, index, test: ruleExpression(rule, tool, constants) }));
  // The denial detail covers allow rules only: a request no rule allows failed some condition of each.
  const failureBlocks = rules.flatMap((rule, index) => (rule.effect === "allow" ? [{ rule, index, checks: failureChecks(rule, tool, constants) }] : []));
  const failureCode = failureBlocks.flatMap((b) => b.checks.flatMap((c) => [c.test ?? "", c.message])).join("\n");
  const plan = tool.run.type === "http" ? httpPlan(tool.run, tool) : execPlan(tool.run, tool);

  const reverse = tool.forward;
  const formats = tool.fields.filter((f) => f.format !== undefined).map((f) => [f.name, f.format!] as const);
  file.addImportDeclaration({ moduleSpecifier: `${RUNTIME}/contract/tool-module.js`, isTypeOnly: true, namedImports: ["Decision", "DecisionEnv", "ExecPlan", ...(reverse?.ok ? ["ForwardRoute"] : []), "HttpRequestPlan", "RuleFailure", "SecretReader", "ToolModule", "ValidationError"] });
  // Import exactly the runtime helpers the emitted code calls.
  const calls = (code: string) => (name: string) => new RegExp(`\\b${name}\\(`).test(code);
  const policyHelpers = ["codePointLength", "credentialFinding", "everyFreeOfCredentials", "everyIn", "everyMatches", "freeOfCredentials", "hasReason", "inWindow", "lastCodePoints"].filter(
    calls(`${ruleBlocks.map((b) => b.test).join("\n")}\n${failureCode}`),
  );
  const encoders = ["pathSegment", "text", "header", "queryString", "definedPairs", "jsonBody", "formBody", "bearer", "basic", "argvValue"].filter(calls(plan));
  if (policyHelpers.length > 0) file.addImportDeclaration({ moduleSpecifier: `${RUNTIME}/contract/policy-helpers.js`, namedImports: policyHelpers });
  if (constants.declarations.some((c) => c.initializer.includes("new DfaMatcher("))) {
    file.addImportDeclaration({ moduleSpecifier: `${RUNTIME}/contract/dfa-match.js`, namedImports: ["DfaMatcher"] });
  }
  if (encoders.length > 0) file.addImportDeclaration({ moduleSpecifier: `${RUNTIME}/egress/request-encoding.js`, namedImports: encoders.sort() });
  file.addImportDeclaration({ moduleSpecifier: `${RUNTIME}/contract/prepare-input.js`, ...(formats.length > 0 ? { namedImports: ["prepareInput", "type InputFormats"] } : { namedImports: ["prepareInput"] }) });
  file.addImportDeclaration({ moduleSpecifier: `${RUNTIME}/contract/validation-errors.js`, namedImports: ["validationErrors"] });
  file.addImportDeclaration({ moduleSpecifier: `../validators/${tool.name}.js`, namedImports: ["validate"] });

  file.addInterface({
    name: input,
    isExported: true,
    docs: [inDocComment(`Input of \`${tool.name}\` (${tool.span.file}:${tool.span.line}).`)],
    properties: tool.fields.map((f) => ({
      name: f.name,
      type: tsType(f),
      hasQuestionToken: f.optional && f.default === undefined,
      ...(f.description === undefined ? {} : { docs: [inDocComment(f.description)] }),
    })),
  });

  file.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    docs: ["The input's JSON Schema, as agents are shown it and as the validator enforces it."],
    declarations: [{ name: "INPUT_SCHEMA", initializer: `${JSON.stringify(inputJsonSchema(tool), null, 2)} as const` }],
  });
  if (formats.length > 0) {
    file.addVariableStatement({
      declarationKind: VariableDeclarationKind.Const,
      docs: ["Fields canonicalised before validation and policy: the canonical value is what is checked, audited and sent."],
      declarations: [{ name: "FORMATS", type: "InputFormats", initializer: JSON.stringify(Object.fromEntries(formats)) }],
    });
  }
  for (const c of constants.declarations) {
    file.addVariableStatement({
      declarationKind: VariableDeclarationKind.Const,
      ...(c.doc === undefined ? {} : { docs: [inDocComment(c.doc)] }),
      declarations: [{ name: c.name, initializer: c.initializer }],
    });
  }
  for (const { rule, index } of ruleBlocks) {
    const decision = {
      effect: rule.effect,
      rule: rule.id,
      ...(rule.reason !== undefined && rule.effect === "deny" ? { reason: rule.reason } : {}),
      ...(rule.approval || rule.rateLimit || rule.budget
        ? { obligations: { ...(rule.approval ? { approval: rule.approval } : {}), ...(rule.rateLimit ? { rateLimit: rule.rateLimit } : {}), ...(rule.budget ? { budget: rule.budget } : {}) } }
        : {}),
    };
    file.addVariableStatement({
      declarationKind: VariableDeclarationKind.Const,
      declarations: [{ name: `RULE_${index}`, type: "Decision", initializer: JSON.stringify(decision) }],
    });
  }
  file.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    declarations: [{ name: "NO_RULE", type: "Decision", initializer: `{ effect: "deny", reason: "no rule allows this request" }` }],
  });

  file.addFunction({
    name: "validateInput",
    docs: ["Validates in place against INPUT_SCHEMA (defaults applied): `prepare` calls it on its own copy."],
    parameters: [{ name: "value", type: "unknown" }],
    returnType: "ValidationError[] | undefined",
    statements: ["return validate(value) ? undefined : validationErrors(validate.errors);"],
  });

  // decide and denialDetail see the same request.
  const decisionParameters = [
    { name: "agent", type: "string" },
    { name: "input", type: input },
    { name: "reason", type: "string | undefined" },
    { name: "env", type: "DecisionEnv" },
  ];
  file.addFunction({
    name: "decide",
    isExported: true,
    docs: [inDocComment(`The policy for \`${tool.name}\`. The compiler proved these rules disjoint, so at most one matches and their order does not matter; anything else is denied.`)],
    parameters: decisionParameters,
    returnType: "Decision",
    statements: (writer) => {
      if (ruleBlocks.length === 0) writer.writeLine("void agent, input, reason;");
      if (!ruleBlocks.some((b) => /\benv\./.test(b.test))) writer.writeLine("void env;");
      for (const { rule, index, test } of ruleBlocks) {
        writer.writeLine(`// ${inLineComment(`${rule.id} (${rule.span.file}:${rule.span.line}): ${rule.effect}, policy \`${rule.policy}\`, ${describeAgents(rule)}`)}`);
        const conditions = test.split(" && ");
        if (conditions.length <= 2) writer.write(`if (${test})`);
        else writer.write(`if (\n${conditions.map((c) => `  ${c}`).join(" &&\n")}\n)`);
        writer.block(() => writer.writeLine(`return RULE_${index};`));
      }
      writer.writeLine("return NO_RULE;");
    },
  });

  file.addFunction({
    name: "denialDetail",
    docs: [inDocComment(`For a \`${tool.name}\` request no rule allows: the conditions that failed, for each allow rule that governs \`agent\`. What the agent is told (unless \`--denial-detail none\`) and what the audit records.`)],
    parameters: decisionParameters,
    returnType: "RuleFailure[]",
    statements: (writer) => {
      const uses = (name: string) => failureBlocks.some((b) => b.rule.agents !== "all" && name === "agent") || new RegExp(`\\b${name}\\b`).test(failureCode);
      const unused = ["agent", "input", "reason", "env"].filter((name) => !uses(name));
      if (unused.length > 0) writer.writeLine(`void ${unused.join(", ")};`);
      writer.writeLine("const failures: RuleFailure[] = [];");
      for (const { rule, checks } of failureBlocks) {
        const governs = rule.agents === "all" ? undefined : `${constants.constant("AGENTS", `new Set<string>(${literal(rule.agents)})`)}.has(agent)`;
        writer.writeLine(`// ${inLineComment(`${rule.id} (${rule.span.file}:${rule.span.line})`)}`);
        const body = () => {
          writer.writeLine("const failed: string[] = [];");
          for (const check of checks) writer.writeLine(check.test === undefined ? `failed.push(${check.message}); // whatever the context: the agent is not told whether it holds` : `if (!(${check.test})) failed.push(${check.message});`);
          writer.writeLine(`failures.push({ rule: ${literal(rule.id)}, failed });`);
        };
        if (governs === undefined) writer.block(body);
        else {
          writer.write(`if (${governs})`);
          writer.block(body);
        }
      }
      writer.writeLine("return failures;");
    },
  });

  file.addFunction({
    name: "plan",
    isExported: true,
    docs: [inDocComment(`What \`${tool.name}\` runs (${tool.span.file}), with every value encoded for its place.`)],
    parameters: [
      { name: "input", type: input },
      { name: "secret", type: "SecretReader" },
    ],
    returnType: tool.run.type === "http" ? "HttpRequestPlan" : "ExecPlan",
    statements: (writer) => {
      if (!/\bsecret\(/.test(plan)) writer.writeLine("void secret;");
      if (!/\binput\./.test(plan)) writer.writeLine("void input;");
      writer.writeLine(`return ${plan};`);
    },
  });

  const visibleTo = rules.some((r) => r.effect === "allow" && r.agents === "all")
    ? ["*"]
    : [...new Set(rules.filter((r) => r.effect === "allow").flatMap((r) => (r.agents === "all" ? [] : r.agents)))].sort();
  const egress =
    tool.run.type === "http"
      ? `{ origin: ${literal(tool.run.origin)}, method: ${literal(tool.run.method)}, path: new RegExp(${literal(pathPattern(tool.run))}) }`
      : "undefined";
  if (reverse?.ok) {
    const { path, ...rest } = reverse.route;
    file.addVariableStatement({
      declarationKind: VariableDeclarationKind.Const,
      docs: ["Forward-proxy mode: how a stock client's request maps back to this input (exact, or the tool is left out)."],
      declarations: [{ name: "FORWARD_ROUTE", type: "ForwardRoute", initializer: `${JSON.stringify(rest).slice(0, -1)}, "path": new RegExp(${literal(path)}) }` }],
    });
  }
  file.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    isExported: true,
    declarations: [
      {
        name: "tool",
        type: `ToolModule<${input}>`,
        initializer: `{
  name: ${literal(tool.name)},
  description: ${literal(tool.description)},
  source: ${literal(`${tool.span.file}:${tool.span.line}`)},
  inputSchema: INPUT_SCHEMA,
  visibleTo: ${literal(visibleTo)},
  requiresReason: ${rules.some((r) => r.effect === "allow" && r.requireReason)},
  requiresApproval: ${rules.some((r) => r.effect === "allow" && r.approval !== undefined)},
  secrets: ${literal(tool.secrets)},
  egress: ${egress},
  forward: ${reverse?.ok ? "FORWARD_ROUTE" : "undefined"},
  output: ${literal(tool.output)},
  validate: validateInput,
  prepare: (value: unknown) => prepareInput(value, ${formats.length > 0 ? "FORMATS" : "{}"}, validateInput),
  decide,
  denialDetail,
  plan,
}`,
      },
    ],
  });
  file.insertStatements(0, [
    `// Generated by keyrunner from ${inLineComment(tool.file)} and the policies that name \`${tool.name}\` — do not edit.`,
    `// Regenerate with \`keyrunner build\`; review changes to this file like code.`,
  ]);
  file.formatText({ indentSize: 2, convertTabsToSpaces: true, ensureNewLineAtEndOfFile: true });
  return file.getFullText();
}
