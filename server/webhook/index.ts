/**
 * The school's webhook: every activity that happened on this replica (never one heard from
 * another: that one sends it) goes to ATELIER_WEBHOOK_URL as a signed JSON event (payload.ts,
 * sign.ts), through a bounded queue (delivery.ts).
 */
import type { ActivityEmitter } from '../activity/activity.ts';
import { WebhookDelivery, type DeliveryOptions } from './delivery.ts';
import { pseudonymKey, webhookPayload } from './payload.ts';

export { WebhookDelivery, type DeliveryOptions } from './delivery.ts';

/** What tests may tune of the delivery (the deployed server takes its defaults). */
export type WebhookTuning = Partial<Pick<DeliveryOptions, 'queueMax' | 'concurrency' | 'timeoutMs' | 'attempts' | 'backoffMs' | 'maxBackoffMs'>>;

export function startWebhook(
  events: ActivityEmitter,
  options: { url: string; key: Buffer; cookieSecret: Buffer; log: DeliveryOptions['log'] } & WebhookTuning,
): WebhookDelivery {
  const { cookieSecret, ...delivery } = options;
  const sender = new WebhookDelivery(delivery);
  const names = pseudonymKey(cookieSecret);
  // The origin only: the path or query may carry the receiver's token.
  options.log()?.info({ receiver: new URL(options.url).origin }, 'webhook: activity is sent to the receiver');
  events.on('activity', (activity, local) => {
    if (local) sender.enqueue(webhookPayload(names, activity));
  });
  return sender;
}
