// undici's Agent module on its own (the package has no exports map, so its files are importable); its
// type is the one the package index declares.
declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici";
  const AgentClass: typeof Agent;
  export default AgentClass;
}
