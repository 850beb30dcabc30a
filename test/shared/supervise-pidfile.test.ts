// The supervise/pidfile suite, run against a shared scanner (see SHARED in test/supervise/lib.ts).
process.env.TETHER_MODE = 'shared';
require('../supervise/pidfile.test');
