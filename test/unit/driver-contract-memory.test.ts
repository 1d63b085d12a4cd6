/** The driver contract, against the memory driver the session and pool tests use. */
import { driverContract } from '../helpers/driver-contract.ts';
import { MemoryDriver } from '../helpers/memory-driver.ts';

driverContract('memory', async () => {
  const deployment = `contract-${process.pid}`;
  return {
    driver: new MemoryDriver({ deployment }),
    another: () => new MemoryDriver({ deployment }),
    template: { labId: 'contract', workspace: '/home/onyxia/work', resources: { cpu: 1, memory: 64 << 20, disk: 16 << 20, pids: 64 }, env: {} },
  };
});
