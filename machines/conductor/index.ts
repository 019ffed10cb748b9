/** The conductor's pure decisions. */
export { pickHosts, type HostChoice, type PickInput, type Weigher } from './pick-hosts.js';
