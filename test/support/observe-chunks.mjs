// Preloaded (`node --import`) into a bundle under test: names on stderr each lazy chunk the bundle
// compiles (runtime-template/process/lazy-chunk.ts compiles them through node:vm's compileFunction).
import vm from "node:vm";

const compile = vm.compileFunction;
vm.compileFunction = function observedCompile(code, params, options) {
  const name = /lazy chunk (\w+)/.exec(String(options?.filename ?? ""));
  if (name !== null) process.stderr.write(`lazy chunk compiled: ${name[1]}\n`);
  return compile.call(this, code, params, options);
};
