// Moved to luo/handlers (the orchestrator reads what drivers declare; driver depends on luo, not the
// reverse). Re-exported here so the public surface and existing imports are unchanged.
export * from "../luo/handlers/errors.js";
