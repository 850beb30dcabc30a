// The scan/fdlimit suite, run against a shared scanner (see startScanner in test/scan/lib.ts).
process.env.TETHER_MODE = 'shared';
require('../scan/fdlimit.test');
