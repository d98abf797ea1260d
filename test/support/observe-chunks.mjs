// Preloaded (`node --import`) into a bundle under test: names on stderr each lazy chunk the bundle
// compiles (runtime-template/process/lazy-chunk.ts compiles them through node:vm's compileFunction).
import vm from "node:vm";

const compile = vm.compileFunction;
vm.compileFunction = function observedCompile(code, params, options) {
  const name = /lazy chunk (\w+)/.exec(String(options?.filename ?? ""));
  if (name !== null) process.stderr.write(`lazy chunk compiled: ${name[1]}\n`);
  return compile.call(this, code, params, options);
};

// And, when the server prints its ready line, the built-in modules loaded by then (one line on stderr).
const write = process.stdout.write;
process.stdout.write = function observedWrite(chunk, ...rest) {
  if (/listening on/.test(String(chunk))) {
    const builtins = process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice("NativeModule ".length));
    process.stderr.write(`built-ins at ready: ${builtins.join(" ")}\n`);
  }
  return write.call(this, chunk, ...rest);
};
