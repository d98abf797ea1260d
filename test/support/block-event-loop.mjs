// Preloaded into a bundle under test (node --import): with KR_TEST_BLOCK_LOOP=1, the sandboxed server's
// event loop blocks for good on its first HTTP request — the "one slow request" of a stuck server.
import diagnosticsChannel from "node:diagnostics_channel";

if (process.env.KR_TEST_BLOCK_LOOP === "1" && process.permission !== undefined) {
  diagnosticsChannel.subscribe("http.server.request.start", () => {
    for (;;);
  });
}
