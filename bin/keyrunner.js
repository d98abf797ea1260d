#!/usr/bin/env node
// The `keyrunner` command: a shim over the compiled CLI (lib/ is built by `npm install` via `prepare`).
import { run } from "../lib/compiler/cli.js";
import { closeInheritedDescriptors, namedDescriptorProblem } from "../lib/runtime-template/process/inherited-descriptors.js";

// A file named as /dev/fd/N must be one passed here (a typo could name one of Node's own pipes, and reading
// it would never end); and `keyrunner run` executes tools in this process: what its starter left open
// must not reach one.
const descriptorProblem = namedDescriptorProblem(process.argv.slice(2), false);
if (descriptorProblem !== undefined) {
  process.stderr.write(`error: ${descriptorProblem}\n`);
  process.exit(1);
}
closeInheritedDescriptors(process.argv.slice(2));

// A reader that stops early (`keyrunner check | head`) is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2));
