export { createNotifierModule, DEFAULT_NOTIFIER_SETTINGS } from './module.js';
export type { NotifierModule, NotifierModuleDeps, NotifierSettings } from './module.js';
export { createBullMqJobQueue } from './queue/bullmq.js';
export type { BullMqJobQueueOptions } from './queue/bullmq.js';
export { createMemoryJobQueue } from './queue/memory.js';
export type { MemoryJobQueueOptions } from './queue/memory.js';
export { DelayJobError, retryDelay } from './queue/port.js';
export type {
  DeadLetterInfo,
  Job,
  JobAttempt,
  JobHandler,
  JobQueue,
  JobWorkerOptions,
  RetrySettings,
} from './queue/port.js';
export type { DeliveryRef } from './store/deliveries.js';
export type { Notification, NotificationKind } from './notification.js';
export type { NotificationFilter } from './filter.js';
export { NOTIFIER_TOPICS } from './filter.js';
export { notifierErrors } from './errors.js';
// Receivers verify deliveries with the `@concord/notifier/verify` entry (verifyWebhook).
export { WebhookHeaders } from './signature.js';
export type { WebhookSender, WebhookRequest } from './delivery/http-sender.js';
export type { ResolveHost } from './url-guard.js';
export { loadNotifierConfig, notifierEnvSchema } from './config.js';
export type { NotifierConfig } from './config.js';
export { notifierMigrations } from './migrations.js';
