/**
 * The coordinator of a lone server: messages go to its own subscribers only, and it leads every
 * job. Messages are encoded and decoded as on the PostgreSQL bus (same limit, same JSON copy).
 */
import { decodeMessage, encodeMessage, LeadNames, newReplicaId, Topics, type Coordinator, type Leadership, type MessageListener } from './coordinator.ts';

export class InProcessCoordinator implements Coordinator {
  readonly replicaId = newReplicaId();
  readonly #topics: Topics;
  readonly #names = new LeadNames();
  readonly #leads = new Set<Leadership>();
  readonly #onError: (error: unknown, context: string) => void;

  constructor(onError: (error: unknown, context: string) => void) {
    this.#onError = onError;
    this.#topics = new Topics(onError);
    this.lead = this.lead.bind(this);
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    this.#topics.deliver(topic, decodeMessage(encodeMessage(this.replicaId, topic, payload))!.p);
  }

  subscribe(topic: string, listener: MessageListener, onGap?: () => void): () => void {
    return this.#topics.subscribe(topic, listener, onGap);
  }

  lead(name: string, run: (signal: AbortSignal) => Promise<void>): Leadership {
    const release = this.#names.claim(name);
    const controller = new AbortController();
    let leading = true;
    const running = run(controller.signal)
      .catch((error: unknown) => this.#onError(error, `lead ${name}`))
      .finally(() => {
        leading = false;
      });
    let stopped: Promise<void> | undefined;
    const leadership: Leadership = {
      get leading() {
        return leading;
      },
      stop: () => {
        stopped ??= (async () => {
          controller.abort();
          await running;
          release();
          this.#leads.delete(leadership);
        })();
        return stopped;
      },
    };
    this.#leads.add(leadership);
    return leadership;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#leads].map((leadership) => leadership.stop()));
  }
}
