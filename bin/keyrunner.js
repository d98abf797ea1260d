#!/usr/bin/env node
// The `keyrunner` command: a shim over the compiled CLI (lib/ is built by `npm install` via `prepare`).
import { run } from "../lib/compiler/cli.js";

// A reader that stops early (`keyrunner check | head`) is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await run(process.argv.slice(2));
