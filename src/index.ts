// tether's programmatic API.
export * from './wire/tain';
export * from './wire/status';
export * from './wire/deathtally';
export { parseSignal, signalName } from './wire/signals';
