/** The gateway's pure decisions: what to do with one user command. */
export { commandHandled, decideCommand, resizeDelta, withinQuota, type GatewayDecision, type GatewayInputs, type IncomingCommand, type ProjectUsage, type RejectCode } from './decide.js';
