/**
 * Nova's errors: the fault shape every one has, and the HTTP status Nova gives for each of
 * novactor's refusals (docs/protocol.md §6.2) — what Nova's API would have said at once. Pure.
 */

/** Nova's fault names by status (nova/api/openstack/wsgi.py `Fault._fault_names`); others are `computeFault`. */
const FAULT_NAMES: Readonly<Record<number, string>> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/** `{"itemNotFound": {"code": 404, "message": …}}`. */
export const novaFault = (status: number, message: string) => ({
  [FAULT_NAMES[status] ?? 'computeFault']: { code: status, message },
});

/** The status Nova answers a command refusal with (its exceptions' codes). */
const REJECTION_STATUS: Readonly<Record<string, number>> = {
  InvalidInput: 400,
  InstanceInvalidState: 409,
  InstanceIsLocked: 409,
  InstanceNotFound: 404,
  InstanceExists: 409,
  FlavorNotFound: 400,
  ImageNotFound: 400,
  ImageNotActive: 400,
  VolumeNotFound: 400,
  VolumeInUse: 409,
  VolumeNotAttached: 400,
  ServerGroupNotFound: 400,
  AvailabilityZoneNotFound: 400,
  NetworkNotFound: 400,
  NetworkAmbiguous: 409,
  PortNotFound: 400,
  PortInUse: 409,
  QuotaExceeded: 403,
  NotAuthorized: 403,
  HostNotFound: 400,
  ServiceUnavailable: 409,
};

export const rejectionStatus = (code: string): number => REJECTION_STATUS[code] ?? 400;

/** A service's error reply (status, code) as the status Nova would answer: a 5xx of NATS stays a 503. */
export const replyStatus = (status: number, code: string): number =>
  REJECTION_STATUS[code] ?? (status >= 500 ? 503 : status >= 400 && status < 500 ? status : 400);
