/** The driver contract, against the local driver's real sandboxes (root, bubblewrap). */
import { driverContract } from '../helpers/driver-contract.ts';
import { LocalDriver } from '../../server/drivers/local/local-driver.ts';
import { MiB } from '../helpers/driver.ts';

const options = { uidBase: 211_000, uidCount: 20, cgroupName: 'atelier-test' };

driverContract('local', async () => {
  const driver = new LocalDriver(options);
  await driver.reapAll();
  return {
    driver,
    // Another process would be a restarted server: a fresh driver, nothing in memory.
    another: () => new LocalDriver(options),
    template: { labId: 'contract', workspace: '/home/onyxia/work', resources: { cpu: 1, memory: 256 * MiB, disk: 64 * MiB, pids: 128 }, env: {} },
    cleanup: () => driver.close(),
  };
});
