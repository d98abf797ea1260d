// Preloaded into the bundle process by the egress-routing tests (`node --import`, with
// --no-permission-model: it needs process.binding). A stand-in for the internet: a TCP connect to an
// address listed in KR_STUB_ROUTES ({ "203.0.113.10": 43121 }) is made to 127.0.0.1 on that port
// instead, so a "public" host can be served by a local test server while everything else — the
// internal upstream the attack aims at — stays where it is. Nothing leaves loopback.
const routes = JSON.parse(process.env.KR_STUB_ROUTES ?? "{}");
const { TCP } = process.binding("tcp_wrap");
const connect = TCP.prototype.connect;
TCP.prototype.connect = function (req, address, port) {
  const routed = routes[address];
  return routed === undefined ? connect.call(this, req, address, port) : connect.call(this, req, "127.0.0.1", routed);
};
