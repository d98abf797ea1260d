// Preloaded into an agent's Node process by `keyrunner proxy-env` (NODE_OPTIONS=--import …): Node 20's
// global fetch ignores HTTPS_PROXY / HTTP_PROXY / NO_PROXY, so clients built on it (Octokit, the OpenAI
// SDK) would bypass the proxy silently. undici's EnvHttpProxyAgent, as the global dispatcher, reads them.
import { EnvHttpProxyAgent, setGlobalDispatcher } from "undici";

setGlobalDispatcher(new EnvHttpProxyAgent());
