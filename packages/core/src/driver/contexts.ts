// Moved to luo/handlers (the orchestrator builds these contexts; driver depends on luo, not the
// reverse). Re-exported here so the public surface and existing imports are unchanged.
export * from "../luo/handlers/contexts.js";
