// The few packages that read Node's process object in the browser get this.
export const process = { env: { NODE_ENV: 'production' }, argv: [], cwd: () => '/', platform: 'browser' };
