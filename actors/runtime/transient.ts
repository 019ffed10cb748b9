/**
 * Whether a thrown error says that trying again may work (errors are typed and say whether to
 * retry, docs/architecture.md): a typed error's own `retryable` (the actor layer's, a call's, the
 * driver's); NATS's request timeouts, missing responders and lost connections. Anything else — a
 * bug, a refusal, a test's injected crash — is not.
 */
import { errors as natsErrors } from '@nats-io/nats-core';

export function isTransient(err: unknown): boolean {
  if (typeof err === 'object' && err !== null && 'retryable' in err && typeof err.retryable === 'boolean')
    return err.retryable;
  return (
    err instanceof natsErrors.TimeoutError ||
    err instanceof natsErrors.NoRespondersError ||
    err instanceof natsErrors.RequestError ||
    err instanceof natsErrors.ConnectionError ||
    err instanceof natsErrors.ClosedConnectionError ||
    err instanceof natsErrors.DrainingConnectionError
  );
}
