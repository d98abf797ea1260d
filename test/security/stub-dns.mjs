// Preloaded into the bundle process by the attack suite (`node --import`): answers DNS lookups from
// the map in KR_STUB_DNS ({ "name": ["address", …] }) instead of the system resolver, so that tests can
// make a tool's host resolve to any address without touching real DNS.
import dns from "node:dns";
import { syncBuiltinESMExports } from "node:module";

const answers = JSON.parse(process.env.KR_STUB_DNS ?? "{}");
const family = (address) => (address.includes(":") ? 6 : 4);
const system = dns.lookup;
dns.lookup = (hostname, options, callback) => {
  const cb = typeof options === "function" ? options : callback;
  const all = typeof options === "object" && options !== null && options.all;
  const list = answers[hostname];
  // Names the test does not map (the server's own listen address) go to the system resolver.
  if (list === undefined) return system(hostname, options, callback);
  const entries = list.map((address) => ({ address, family: family(address) }));
  if (all) process.nextTick(cb, null, entries);
  else process.nextTick(cb, null, entries[0].address, entries[0].family);
};
syncBuiltinESMExports();
