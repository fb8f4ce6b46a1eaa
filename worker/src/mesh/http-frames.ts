/**
 * Framing of `/dsmp/http/1.0.0`, the protocol that carries one HTTP exchange between a gateway and a
 * provider over a libp2p stream (docs/protocol.md §5). Pure code: an encoder and an incremental decoder,
 * no sockets, no clocks.
 *
 * A frame is `uvarint(L) ‖ type (1 byte) ‖ uvarint(requestId) ‖ payload`, where `L` counts the bytes
 * after the length prefix. Every frame carries its request id so that a later version can interleave
 * many requests on one long-lived stream; in 1.0.0 a stream carries exactly one request.
 */
import { z } from "zod";
import { HttpFrameError, type MeshErrorCode } from "../errors.ts";

/** The libp2p protocol id of the HTTP data plane. */
export const HTTP_PROTOCOL_ID = "/dsmp/http/1.0.0";

/** Frame type bytes. Values not listed here are refused (`unknown-type`). */
export const FRAME_TYPE = {
  requestHead: 0x01,
  body: 0x02,
  end: 0x03,
  responseHead: 0x04,
  error: 0x05,
  reset: 0x06,
  window: 0x07,
} as const;

/**
 * Largest head payload (REQUEST_HEAD, RESPONSE_HEAD, ERROR JSON): 16 KiB. The same order as the header
 * limits of common HTTP servers (Node 16 KiB, nginx 8–32 KiB), so any request a server would take fits.
 */
export const MAX_HEAD_BYTES = 16 * 1024;
/**
 * Largest BODY payload: 64 KiB. Big enough that framing costs < 0.01 %, small enough that a frame is
 * buffered whole without hurting memory, and equal to yamux's default message size.
 */
export const MAX_BODY_FRAME_BYTES = 64 * 1024;
/** Most header pairs in a head: 100, the default of Go's and nginx's servers is in the same range. */
export const MAX_HEADER_COUNT = 100;
/** Request ids are 32-bit: plenty for the requests in flight on one stream. */
export const MAX_REQUEST_ID = 0xffff_ffff;
/** Bytes a minimal uvarint of {@link MAX_REQUEST_ID} takes. */
const MAX_REQUEST_ID_BYTES = 5;
/** Largest `L`: type byte, longest request id, largest body payload (65 542). */
export const MAX_FRAME_LENGTH = 1 + MAX_REQUEST_ID_BYTES + MAX_BODY_FRAME_BYTES;
/** A length prefix takes at most 3 bytes (2^21 − 1 ≥ {@link MAX_FRAME_LENGTH}); a 4th byte is refused at once. */
export const MAX_LENGTH_PREFIX_BYTES = 3;
/** Largest WINDOW increment: 2^31 − 1, as in HTTP/2, so a credit sum never overflows a 32-bit counter. */
export const MAX_WINDOW_INCREMENT = 0x7fff_ffff;
/** Longest ERROR message, in UTF-16 code units. */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

/**
 * Every ERROR code of this version and the status a gateway answers with (docs/protocol.md §5.6).
 * Receivers treat a code they do not know as `internal`, so new codes need no new protocol version.
 */
export const HTTP_ERROR_STATUS: Readonly<Record<MeshErrorCode, number>> = {
  "bad-request": 400,
  unauthorized: 401,
  forbidden: 403,
  "unknown-service": 404,
  "head-too-large": 431,
  internal: 500,
  "protocol-error": 502,
  "backend-unavailable": 502,
  "backend-failed": 502,
  busy: 503,
  "deadline-exceeded": 504,
};

/** The known code `code` stands for: itself, or `internal` for a code of a newer version. */
export function knownErrorCode(code: string): MeshErrorCode {
  return Object.hasOwn(HTTP_ERROR_STATUS, code) ? (code as MeshErrorCode) : "internal";
}

/** A header as it travels: name lowercase, value as Node's latin1 string. Order and duplicates are kept. */
export type HeaderPair = [name: string, value: string];

export interface RequestHead {
  /** An HTTP method token, case kept (`GET`, `POST`, …). */
  method: string;
  /** Origin-form request target: `/` then path and query, exactly as received (never decoded). */
  path: string;
  headers: HeaderPair[];
  /** ServiceRegistry id, decimal without leading zeros. */
  serviceId: string;
  /** Unix milliseconds after which the caller no longer wants the answer. */
  deadline: number;
  /** Consumer access token; reserved for the access-control issue, providers ignore it for now. */
  token?: string | undefined;
}

export interface ResponseHead {
  /** Final status, 200–599 (interim 1xx responses are not forwarded). */
  status: number;
  headers: HeaderPair[];
}

export interface FrameErrorPayload {
  /** A {@link MeshErrorCode}, or a newer code (lowercase letters, digits and `-`, ≤ 32 characters). */
  code: string;
  message: string;
}

export type HttpFrame =
  | { type: "request-head"; requestId: number; head: RequestHead }
  | { type: "body"; requestId: number; chunk: Uint8Array }
  | { type: "end"; requestId: number }
  | { type: "response-head"; requestId: number; head: ResponseHead }
  | { type: "error"; requestId: number; error: FrameErrorPayload }
  | { type: "reset"; requestId: number }
  /** Session protocol only (docs/protocol.md §10): the sender may take `increment` more BODY bytes of this request. */
  | { type: "window"; requestId: number; increment: number };

export type HttpFrameType = HttpFrame["type"];

const TYPE_BYTE: Record<HttpFrameType, number> = {
  "request-head": FRAME_TYPE.requestHead,
  body: FRAME_TYPE.body,
  end: FRAME_TYPE.end,
  "response-head": FRAME_TYPE.responseHead,
  error: FRAME_TYPE.error,
  reset: FRAME_TYPE.reset,
  window: FRAME_TYPE.window,
};

// ---------------------------------------------------------------------------------------------------------
// Field rules

/** RFC 9110 `token`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LOWERCASE_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** Field value: HTAB, visible ASCII, space, obs-text (latin1); never CR, LF or NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Origin-form target: `/` then visible ASCII (a client percent-encodes everything else). */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;
const ACCESS_TOKEN = /^[\x21-\x7e]+$/;
const ERROR_CODE = /^[a-z][a-z0-9-]{0,31}$/;
const UINT256_MAX = 2n ** 256n - 1n;

const ErrorPayloadSchema = z.object({
  code: z.string().regex(ERROR_CODE),
  message: z.string().max(MAX_ERROR_MESSAGE_LENGTH),
});

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
}

function checkHeaderCount(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  const headers = (value as { headers?: unknown }).headers;
  if (Array.isArray(headers) && headers.length > MAX_HEADER_COUNT) {
    throw new HttpFrameError("too-many-headers", `${headers.length} header pairs, at most ${MAX_HEADER_COUNT}`);
  }
}

// Request and response heads are checked by hand rather than with zod: they are checked on every request
// (the provider on receipt, the gateway before routing), and a schema walk cost ~5 % of a request's CPU.
// The rules are those of the zod schemas in http-frames.test.ts, which a property test holds these to.

function invalidField(what: string, field: string, message: string): never {
  throw new HttpFrameError("invalid-fields", `${what}: ${field}: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkHeaders(value: unknown, what: string): HeaderPair[] {
  if (!Array.isArray(value)) invalidField(what, "headers", "expected an array");
  for (let index = 0; index < value.length; index++) {
    const pair: unknown = value[index];
    if (!Array.isArray(pair) || pair.length !== 2) invalidField(what, `headers.${index}`, "expected a [name, value] pair");
    const [name, fieldValue] = pair as unknown[];
    if (typeof name !== "string" || !LOWERCASE_TOKEN.test(name)) invalidField(what, `headers.${index}.0`, "not a lowercase token");
    if (typeof fieldValue !== "string" || !FIELD_VALUE.test(fieldValue)) invalidField(what, `headers.${index}.1`, "not a field value");
  }
  return value as HeaderPair[];
}

function checkServiceId(value: unknown, what: string): string {
  if (typeof value !== "string" || !DECIMAL.test(value)) invalidField(what, "serviceId", "not a decimal without leading zeros");
  // 2^256 − 1 has 78 digits: only a 78-digit id may be above it.
  if (value.length === 78 && BigInt(value) > UINT256_MAX) invalidField(what, "serviceId", "above 2^256 - 1");
  return value;
}

/**
 * A request head with exactly the fields of {@link RequestHead}, each checked.
 * @throws {HttpFrameError} `too-many-headers`, `invalid-fields`.
 */
function checkRequestHead(value: unknown, what: string): RequestHead {
  checkHeaderCount(value);
  if (!isRecord(value)) invalidField(what, "(root)", "expected an object");
  const { method, path, headers, serviceId, deadline, token } = value;
  if (typeof method !== "string" || method.length > 32 || !TOKEN.test(method)) invalidField(what, "method", "not a token of at most 32 characters");
  if (typeof path !== "string" || !ORIGIN_FORM.test(path)) invalidField(what, "path", "not an origin-form target");
  const checkedHeaders = checkHeaders(headers, what);
  const checkedServiceId = checkServiceId(serviceId, what);
  if (typeof deadline !== "number" || !Number.isSafeInteger(deadline) || deadline < 0) invalidField(what, "deadline", "not an integer in [0, 2^53 - 1]");
  if (token === undefined) return { method, path, headers: checkedHeaders, serviceId: checkedServiceId, deadline };
  if (typeof token !== "string" || token.length > 4096 || !ACCESS_TOKEN.test(token)) invalidField(what, "token", "not 1–4096 visible ASCII characters");
  return { method, path, headers: checkedHeaders, serviceId: checkedServiceId, deadline, token };
}

/**
 * A response head with exactly the fields of {@link ResponseHead}, each checked.
 * @throws {HttpFrameError} `too-many-headers`, `invalid-fields`.
 */
function checkResponseHead(value: unknown, what: string): ResponseHead {
  checkHeaderCount(value);
  if (!isRecord(value)) invalidField(what, "(root)", "expected an object");
  const { status, headers } = value;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) invalidField(what, "status", "not an integer in [200, 599]");
  return { status, headers: checkHeaders(headers, what) };
}

function parseWith<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, what: string): T {
  checkHeaderCount(value);
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpFrameError("invalid-fields", `${what}: ${describeIssues(result.error)}`);
  return result.data;
}

// ---------------------------------------------------------------------------------------------------------
// Varints (unsigned LEB128, minimal encoding required)

function uvarintLength(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size += 1;
  }
  return size;
}

function writeUvarint(target: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[offset++] = value;
  return offset;
}

// ---------------------------------------------------------------------------------------------------------
// Encoder

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function headPayload(frame: HttpFrame): Uint8Array {
  let json: string;
  switch (frame.type) {
    case "request-head": {
      json = JSON.stringify(checkRequestHead(frame.head, "request head"));
      break;
    }
    case "response-head": {
      json = JSON.stringify(checkResponseHead(frame.head, "response head"));
      break;
    }
    case "error": {
      const { code, message } = parseWith(ErrorPayloadSchema, frame.error, "error");
      json = JSON.stringify({ code, message });
      break;
    }
    default:
      throw new Error(`not a head frame: ${frame.type}`);
  }
  const bytes = utf8Encoder.encode(json);
  if (bytes.byteLength > MAX_HEAD_BYTES) {
    throw new HttpFrameError("head-too-large", `${frame.type} payload is ${bytes.byteLength} bytes, at most ${MAX_HEAD_BYTES}`);
  }
  return bytes;
}

function framePayload(frame: HttpFrame): Uint8Array {
  switch (frame.type) {
    case "body":
      if (frame.chunk.byteLength > MAX_BODY_FRAME_BYTES) {
        throw new HttpFrameError("body-too-large", `body chunk of ${frame.chunk.byteLength} bytes, at most ${MAX_BODY_FRAME_BYTES}`);
      }
      return frame.chunk;
    case "end":
    case "reset":
      return new Uint8Array(0);
    case "window": {
      const { increment } = frame;
      if (!Number.isInteger(increment) || increment < 1 || increment > MAX_WINDOW_INCREMENT) {
        throw new HttpFrameError("invalid-fields", `window increment ${increment} is not an integer in [1, ${MAX_WINDOW_INCREMENT}]`);
      }
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, increment);
      return out;
    }
    default:
      return headPayload(frame);
  }
}

/**
 * Encode one frame, checking it against every rule a receiver applies, so this node never sends what a
 * peer would refuse.
 * @throws {HttpFrameError} `head-too-large`, `too-many-headers`, `invalid-fields`, `body-too-large`,
 *   `bad-request-id`.
 * @example
 * stream.send(encodeFrame({ type: "end", requestId: 1 })); // 0x02 0x03 0x01
 */
export function encodeFrame(frame: HttpFrame): Uint8Array {
  checkRequestId(frame.requestId);
  return frameBytes(TYPE_BYTE[frame.type], frame.requestId, framePayload(frame));
}

function checkRequestId(requestId: number): void {
  if (!Number.isInteger(requestId) || requestId < 0 || requestId > MAX_REQUEST_ID) {
    throw new HttpFrameError("bad-request-id", `request id ${requestId} is not an integer in [0, ${MAX_REQUEST_ID}]`);
  }
}

function frameBytes(typeByte: number, requestId: number, payload: Uint8Array): Uint8Array {
  const length = 1 + uvarintLength(requestId) + payload.byteLength;
  const out = new Uint8Array(uvarintLength(length) + length);
  let offset = writeUvarint(out, 0, length);
  out[offset++] = typeByte;
  offset = writeUvarint(out, offset, requestId);
  out.set(payload, offset);
  return out;
}

/**
 * A request head checked and serialized once: the gateway builds one per client request (answering 400 or
 * 431 if it does not encode) and every attempt frames the same payload under its own request id with
 * {@link encodeRequestHeadFrame}, so no head is validated or stringified twice. Only {@link payload}
 * goes on the wire; {@link head} is the checked head it was made from, for the sender's own use.
 */
export class EncodedRequestHead {
  readonly head: RequestHead;
  readonly payload: Uint8Array;

  /** @throws {HttpFrameError} `head-too-large`, `too-many-headers`, `invalid-fields`. */
  constructor(head: RequestHead) {
    this.head = checkRequestHead(head, "request head");
    this.payload = utf8Encoder.encode(JSON.stringify(this.head));
    if (this.payload.byteLength > MAX_HEAD_BYTES) {
      throw new HttpFrameError("head-too-large", `request-head payload is ${this.payload.byteLength} bytes, at most ${MAX_HEAD_BYTES}`);
    }
  }
}

/**
 * The REQUEST_HEAD frame of `head` for request `requestId`: the same bytes as
 * `encodeFrame({ type: "request-head", requestId, head: head.head })`, without checking the head again.
 * @throws {HttpFrameError} `bad-request-id`.
 */
export function encodeRequestHeadFrame(requestId: number, head: EncodedRequestHead): Uint8Array {
  checkRequestId(requestId);
  return frameBytes(FRAME_TYPE.requestHead, requestId, head.payload);
}

/** Cut a body into views of at most `max` bytes (no copy); an empty body gives no chunks. */
export function splitBody(chunk: Uint8Array, max: number = MAX_BODY_FRAME_BYTES): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < chunk.byteLength; offset += max) {
    parts.push(chunk.subarray(offset, Math.min(offset + max, chunk.byteLength)));
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------------------
// Decoder

function parseJson(payload: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8Decoder.decode(payload));
  } catch (cause) {
    throw new HttpFrameError("bad-json", `${what} is not UTF-8 JSON: ${(cause as Error).message}`, { cause });
  }
}

function decodeHead(payload: Uint8Array, what: string): unknown {
  if (payload.byteLength > MAX_HEAD_BYTES) {
    throw new HttpFrameError("head-too-large", `${what} payload is ${payload.byteLength} bytes, at most ${MAX_HEAD_BYTES}`);
  }
  return parseJson(payload, what);
}

/** Decode the bytes after the length prefix: type, request id, payload. */
function decodeFrameBody(bytes: Uint8Array): HttpFrame {
  const typeByte = bytes[0]!;
  let requestId = 0;
  let offset = 1;
  for (let shift = 0; ; shift++) {
    if (offset >= bytes.byteLength) throw new HttpFrameError("bad-request-id", "the frame ends inside its request id");
    if (shift === MAX_REQUEST_ID_BYTES) throw new HttpFrameError("bad-request-id", `request id longer than ${MAX_REQUEST_ID_BYTES} bytes`);
    const byte = bytes[offset++]!;
    requestId += (byte & 0x7f) * 2 ** (7 * shift);
    if ((byte & 0x80) === 0) {
      if (shift > 0 && byte === 0) throw new HttpFrameError("bad-request-id", "request id is not minimally encoded");
      break;
    }
  }
  if (requestId > MAX_REQUEST_ID) throw new HttpFrameError("bad-request-id", `request id ${requestId} above ${MAX_REQUEST_ID}`);
  const payload = bytes.subarray(offset);

  switch (typeByte) {
    case FRAME_TYPE.requestHead:
      return { type: "request-head", requestId, head: checkRequestHead(decodeHead(payload, "request head"), "request head") };
    case FRAME_TYPE.body:
      if (payload.byteLength > MAX_BODY_FRAME_BYTES) {
        throw new HttpFrameError("body-too-large", `body frame of ${payload.byteLength} bytes, at most ${MAX_BODY_FRAME_BYTES}`);
      }
      return { type: "body", requestId, chunk: payload };
    case FRAME_TYPE.end:
    case FRAME_TYPE.reset:
      if (payload.byteLength > 0) {
        throw new HttpFrameError("unexpected-payload", `${typeByte === FRAME_TYPE.end ? "END" : "RESET"} frame with ${payload.byteLength} payload bytes`);
      }
      return typeByte === FRAME_TYPE.end ? { type: "end", requestId } : { type: "reset", requestId };
    case FRAME_TYPE.window: {
      if (payload.byteLength !== 4) throw new HttpFrameError("invalid-fields", `WINDOW payload of ${payload.byteLength} bytes, must be 4`);
      const increment = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
      if (increment < 1 || increment > MAX_WINDOW_INCREMENT) {
        throw new HttpFrameError("invalid-fields", `window increment ${increment} is not in [1, ${MAX_WINDOW_INCREMENT}]`);
      }
      return { type: "window", requestId, increment };
    }
    case FRAME_TYPE.responseHead:
      return { type: "response-head", requestId, head: checkResponseHead(decodeHead(payload, "response head"), "response head") };
    case FRAME_TYPE.error:
      return { type: "error", requestId, error: parseWith(ErrorPayloadSchema, decodeHead(payload, "error"), "error") };
    default:
      throw new HttpFrameError("unknown-type", `frame type 0x${typeByte.toString(16).padStart(2, "0")}`);
  }
}

/**
 * Incremental decoder: {@link push} bytes as they arrive, take frames with {@link next}. It never holds
 * more than one frame beyond what was pushed: the length is checked against {@link MAX_FRAME_LENGTH} as
 * soon as the prefix is complete, before the frame body is buffered. After an error the decoder is dead and
 * keeps throwing the same error.
 */
export class HttpFrameDecoder {
  readonly #chunks: Uint8Array[] = [];
  /** Read offset into `#chunks[0]`. */
  #offset = 0;
  #buffered = 0;
  #failed: HttpFrameError | undefined;

  /** Bytes pushed but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.#chunks.push(bytes);
    this.#buffered += bytes.byteLength;
  }

  /**
   * The next complete frame, or `undefined` when more bytes are needed.
   * @throws {HttpFrameError} on the first malformed byte sequence.
   */
  next(): HttpFrame | undefined {
    if (this.#failed !== undefined) throw this.#failed;
    try {
      const prefix = this.#lengthPrefix();
      if (prefix === undefined || this.#buffered < prefix.size + prefix.length) return undefined;
      this.#take(prefix.size);
      return decodeFrameBody(this.#take(prefix.length));
    } catch (error) {
      if (error instanceof HttpFrameError) this.#failed = error;
      throw error;
    }
  }

  /**
   * Call when the stream has ended: throws if bytes of an incomplete frame remain.
   * @throws {HttpFrameError} `truncated`.
   */
  finish(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#buffered > 0) {
      this.#failed = new HttpFrameError("truncated", `the stream ended with ${this.#buffered} bytes of an incomplete frame`);
      throw this.#failed;
    }
  }

  #lengthPrefix(): { length: number; size: number } | undefined {
    let length = 0;
    for (let index = 0; index < MAX_LENGTH_PREFIX_BYTES; index++) {
      if (index >= this.#buffered) return undefined;
      const byte = this.#peek(index);
      length += (byte & 0x7f) * 2 ** (7 * index);
      if ((byte & 0x80) !== 0) continue;
      if (index > 0 && byte === 0) throw new HttpFrameError("bad-length", "length prefix is not minimally encoded");
      if (length === 0) throw new HttpFrameError("empty-frame", "length prefix 0");
      if (length > MAX_FRAME_LENGTH) throw new HttpFrameError("frame-too-large", `frame of ${length} bytes, at most ${MAX_FRAME_LENGTH}`);
      return { length, size: index + 1 };
    }
    throw new HttpFrameError("frame-too-large", `length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes`);
  }

  #peek(index: number): number {
    let position = this.#offset + index;
    for (const chunk of this.#chunks) {
      if (position < chunk.byteLength) return chunk[position]!;
      position -= chunk.byteLength;
    }
    throw new RangeError("peek beyond the buffered bytes");
  }

  /** Remove and return the next `count` bytes (a view when they lie in one chunk, else a copy). */
  #take(count: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.byteLength - this.#offset >= count) {
      const view = first.subarray(this.#offset, this.#offset + count);
      this.#advance(count);
      return view;
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[0]!;
      const available = Math.min(chunk.byteLength - this.#offset, count - filled);
      out.set(chunk.subarray(this.#offset, this.#offset + available), filled);
      filled += available;
      this.#advance(available);
    }
    return out;
  }

  #advance(count: number): void {
    this.#offset += count;
    this.#buffered -= count;
    while (this.#chunks.length > 0 && this.#offset >= this.#chunks[0]!.byteLength) {
      this.#offset -= this.#chunks[0]!.byteLength;
      this.#chunks.shift();
    }
  }
}

/**
 * Decode bytes holding exactly one frame (length prefix included).
 * @throws {HttpFrameError} if they are malformed, incomplete (`truncated`) or followed by more bytes.
 */
export function decodeFrame(bytes: Uint8Array): HttpFrame {
  const decoder = new HttpFrameDecoder();
  decoder.push(bytes);
  const frame = decoder.next();
  if (frame === undefined) {
    decoder.finish();
    throw new HttpFrameError("truncated", "no complete frame");
  }
  if (decoder.bufferedBytes > 0) throw new HttpFrameError("unexpected-frame", `${decoder.bufferedBytes} bytes after the frame`);
  return frame;
}
