// The floor: the least a Node proxy can do for this request — node:http in, one keep-alive undici Pool
// out, the credential injected, the answer buffered and returned. No validation, policy, redaction or
// audit. KeyRunner's cost above this line is the price of what it adds; below it is Node itself.
import { createServer } from "node:http";
import { Pool } from "undici";

const target = process.argv[2];
const pool = new Pool(target, { connections: 128 });
const authorization = `Bearer ${process.env.STRIPE_API_KEY}`;
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      const upstream = await pool.request({
        path: "/v1/refunds",
        method: "POST",
        headers: { authorization, "content-type": "application/json" },
        body: Buffer.concat(chunks),
      });
      const body = Buffer.from(await upstream.body.arrayBuffer());
      res.writeHead(upstream.statusCode, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
