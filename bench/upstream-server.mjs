// The benchmark's upstream: answers every request with a small JSON refund, as fast as Node can.
import { createServer } from "node:http";

const reply = JSON.stringify({ id: "re_1", object: "refund", status: "succeeded", amount: 2500 });
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply) });
    res.end(reply);
  });
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
