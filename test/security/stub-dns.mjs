// Preloaded into the bundle process by the attack suite (`node --import`): answers DNS lookups from
// the map in KR_STUB_DNS instead of the system resolver, so that tests can make a tool's host resolve
// to any address without touching real DNS. A name maps to one answer (["address", …]) or to a
// sequence of answers ({ "sequence": [[…], […]] }): each lookup takes the next, the last one repeats —
// a rebinding name.
import dns from "node:dns";
import { syncBuiltinESMExports } from "node:module";

const answers = JSON.parse(process.env.KR_STUB_DNS ?? "{}");
const family = (address) => (address.includes(":") ? 6 : 4);
const system = dns.lookup;
dns.lookup = (hostname, options, callback) => {
  const cb = typeof options === "function" ? options : callback;
  const all = typeof options === "object" && options !== null && options.all;
  const mapped = answers[hostname];
  // Names the test does not map (the server's own listen address) go to the system resolver.
  if (mapped === undefined) return system(hostname, options, callback);
  const list = Array.isArray(mapped) ? mapped : mapped.sequence.length > 1 ? mapped.sequence.shift() : mapped.sequence[0];
  const entries = list.map((address) => ({ address, family: family(address) }));
  if (all) process.nextTick(cb, null, entries);
  else process.nextTick(cb, null, entries[0].address, entries[0].family);
};
syncBuiltinESMExports();
