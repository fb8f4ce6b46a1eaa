import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { HttpFrameError, type HttpFrameInvalidReason } from "../errors.ts";
import {
  decodeFrame,
  EncodedRequestHead,
  encodeFrame,
  encodeRequestHeadFrame,
  FRAME_TYPE,
  HTTP_ERROR_STATUS,
  HttpFrameDecoder,
  knownErrorCode,
  MAX_BODY_FRAME_BYTES,
  MAX_FRAME_LENGTH,
  MAX_HEAD_BYTES,
  MAX_HEADER_COUNT,
  splitBody,
  type HttpFrame,
  type RequestHead,
} from "./http-frames.ts";

const headerPair = fc.tuple(fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,24}$/), fc.stringMatching(/^[\t\x20-\x7e\x80-\xff]{0,48}$/));
const headers = fc.array(headerPair, { maxLength: 12 });
const requestId = fc.integer({ min: 0, max: 0xffff_ffff });

const requestHead: fc.Arbitrary<RequestHead> = fc.record(
  {
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "M-SEARCH"),
    path: fc.stringMatching(/^\/[\x21-\x7e]{0,80}$/),
    headers,
    serviceId: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }).map(String),
    deadline: fc.maxSafeNat(),
    token: fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
  },
  { requiredKeys: ["method", "path", "headers", "serviceId", "deadline"] },
);

const frame: fc.Arbitrary<HttpFrame> = fc.oneof(
  fc.record({ type: fc.constant("request-head" as const), requestId, head: requestHead }),
  fc.record({ type: fc.constant("body" as const), requestId, chunk: fc.uint8Array({ maxLength: 3000 }) }),
  fc.record({ type: fc.constant("end" as const), requestId }),
  fc.record({
    type: fc.constant("response-head" as const),
    requestId,
    head: fc.record({ status: fc.integer({ min: 200, max: 599 }), headers }),
  }),
  fc.record({
    type: fc.constant("error" as const),
    requestId,
    error: fc.record({ code: fc.constantFrom(...Object.keys(HTTP_ERROR_STATUS), "future-code"), message: fc.string({ maxLength: 200 }) }),
  }),
  fc.record({ type: fc.constant("reset" as const), requestId }),
  fc.record({ type: fc.constant("window" as const), requestId, increment: fc.integer({ min: 1, max: 0x7fff_ffff }) }),
);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));
}

function frameBytes(type: number, requestIdBytes: readonly number[], payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const rest = concat([Uint8Array.of(type, ...requestIdBytes), body]);
  const length: number[] = [];
  let value = rest.byteLength;
  while (value >= 0x80) {
    length.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  length.push(value);
  return concat([Uint8Array.from(length), rest]);
}

function reasonOf(run: () => unknown): HttpFrameInvalidReason {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HttpFrameError);
    return (error as HttpFrameError).reason;
  }
  throw new Error("expected an HttpFrameError");
}

const validHead: RequestHead = { method: "GET", path: "/", headers: [], serviceId: "1", deadline: 0 };

describe("encodeFrame / decodeFrame", () => {
  it("round-trips every frame", () => {
    fc.assert(
      fc.property(frame, (original) => {
        expect(decodeFrame(encodeFrame(original))).toEqual(original);
      }),
      { numRuns: 500 },
    );
  });

  it("decodes any sequence of frames however the bytes are cut", () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
        const bytes = concat(frames.map(encodeFrame));
        const points = [...new Set(cuts.map((cut) => (bytes.byteLength === 0 ? 0 : cut % bytes.byteLength)))].sort((a, b) => a - b);
        const decoder = new HttpFrameDecoder();
        const decoded: HttpFrame[] = [];
        let previous = 0;
        for (const point of [...points, bytes.byteLength]) {
          decoder.push(bytes.subarray(previous, point));
          previous = point;
          for (let next = decoder.next(); next !== undefined; next = decoder.next()) decoded.push(next);
        }
        decoder.finish();
        expect(decoded).toEqual(frames);
      }),
      { numRuns: 300 },
    );
  });

  it("carries a full 64 KiB body frame and splits larger bodies into 64 KiB views", () => {
    const chunk = new Uint8Array(MAX_BODY_FRAME_BYTES).map((_, index) => index % 251);
    expect(decodeFrame(encodeFrame({ type: "body", requestId: 0xffff_ffff, chunk }))).toEqual({ type: "body", requestId: 0xffff_ffff, chunk });
    const parts = splitBody(new Uint8Array(2 * MAX_BODY_FRAME_BYTES + 1));
    expect(parts.map((part) => part.byteLength)).toEqual([MAX_BODY_FRAME_BYTES, MAX_BODY_FRAME_BYTES, 1]);
    expect(splitBody(new Uint8Array(0))).toEqual([]);
  });

  it("omits an absent token", () => {
    const bytes = encodeFrame({ type: "request-head", requestId: 1, head: validHead });
    expect(new TextDecoder().decode(bytes.subarray(3))).toBe('{"method":"GET","path":"/","headers":[],"serviceId":"1","deadline":0}');
  });

  it("ignores unknown head fields (forward compatibility)", () => {
    const bytes = frameBytes(FRAME_TYPE.responseHead, [1], '{"status":200,"headers":[],"trailers":[]}');
    expect(decodeFrame(bytes)).toEqual({ type: "response-head", requestId: 1, head: { status: 200, headers: [] } });
  });

  it("maps unknown error codes to internal", () => {
    expect(knownErrorCode("unknown-service")).toBe("unknown-service");
    expect(knownErrorCode("from-the-future")).toBe("internal");
    expect(knownErrorCode("__proto__")).toBe("internal");
  });
});

describe("malformed input", () => {
  const cases: Array<[string, Uint8Array, HttpFrameInvalidReason]> = [
    ["a length prefix of 0", hex("00"), "empty-frame"],
    ["a non-minimal length prefix", hex("8100 03 01"), "bad-length"],
    ["a length prefix of 4 bytes", hex("80808001"), "frame-too-large"],
    ["a length over the frame cap", hex("878004"), "frame-too-large"],
    ["a frame without a request id", hex("01 03"), "bad-request-id"],
    ["a request id over 2^32 - 1", hex("06 03 8080808010"), "bad-request-id"],
    ["a request id of 6 bytes", hex("07 03 808080808000"), "bad-request-id"],
    ["a non-minimal request id", hex("03 03 8000"), "bad-request-id"],
    ["an unknown type", hex("02 08 01"), "unknown-type"],
    ["WINDOW without its 4-byte increment", hex("02 07 01"), "invalid-fields"],
    ["WINDOW with increment 0", hex("06 07 01 00000000"), "invalid-fields"],
    ["WINDOW with increment 2^31", hex("06 07 01 80000000"), "invalid-fields"],
    ["type 0", hex("02 00 01"), "unknown-type"],
    ["END with a payload", hex("03 03 01 00"), "unexpected-payload"],
    ["RESET with a payload", hex("03 06 01 ff"), "unexpected-payload"],
    ["a head that is not UTF-8", frameBytes(FRAME_TYPE.requestHead, [1], hex("7b22c3")), "bad-json"],
    ["a head that is not JSON", frameBytes(FRAME_TYPE.requestHead, [1], "{method:GET}"), "bad-json"],
    ["a head that is a JSON array", frameBytes(FRAME_TYPE.requestHead, [1], "[]"), "invalid-fields"],
    ["a head without method", frameBytes(FRAME_TYPE.requestHead, [1], '{"path":"/","headers":[],"serviceId":"1","deadline":0}'), "invalid-fields"],
    ["an uppercase header name", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, headers: [["Host", "x"]] })), "invalid-fields"],
    ["CRLF in a header value", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, headers: [["a", "b\r\nc: d"]] })), "invalid-fields"],
    ["a header value above latin1", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, headers: [["a", "€"]] })), "invalid-fields"],
    ["an absolute-form path", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, path: "http://x/" })), "invalid-fields"],
    ["a space in the path", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, path: "/a b" })), "invalid-fields"],
    ["a service id that is not decimal (zod's refinement threw a SyntaxError here)", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, serviceId: "x1" })), "invalid-fields"],
    ["a service id with a leading zero", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, serviceId: "01" })), "invalid-fields"],
    ["a service id of 2^256", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, serviceId: String(2n ** 256n) })), "invalid-fields"],
    ["a negative deadline", frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, deadline: -1 })), "invalid-fields"],
    ["a status of 101", frameBytes(FRAME_TYPE.responseHead, [1], '{"status":101,"headers":[]}'), "invalid-fields"],
    ["an error code with capitals", frameBytes(FRAME_TYPE.error, [1], '{"code":"Busy","message":""}'), "invalid-fields"],
    [
      `${MAX_HEADER_COUNT + 1} headers`,
      frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, headers: Array.from({ length: MAX_HEADER_COUNT + 1 }, () => ["a", "b"]) })),
      "too-many-headers",
    ],
    [
      "a head over 16 KiB",
      frameBytes(FRAME_TYPE.requestHead, [1], JSON.stringify({ ...validHead, headers: [["a", "b".repeat(MAX_HEAD_BYTES)]] })),
      "head-too-large",
    ],
    ["a body frame over 64 KiB", frameBytes(FRAME_TYPE.body, [1], new Uint8Array(MAX_BODY_FRAME_BYTES + 1)), "body-too-large"],
  ];

  it.each(cases)("refuses %s", (_name, bytes, reason) => {
    expect(reasonOf(() => decodeFrame(bytes))).toBe(reason);
  });

  it("reports a truncated length prefix or frame only when the stream ends", () => {
    for (const bytes of [hex("80"), hex("8180"), hex("05 02 01 aa")]) {
      const decoder = new HttpFrameDecoder();
      decoder.push(bytes);
      expect(decoder.next()).toBeUndefined();
      expect(reasonOf(() => decoder.finish())).toBe("truncated");
    }
  });

  it("refuses an oversized length before the frame body arrives", () => {
    const decoder = new HttpFrameDecoder();
    const length = MAX_FRAME_LENGTH + 1;
    decoder.push(Uint8Array.of((length & 0x7f) | 0x80, ((length >> 7) & 0x7f) | 0x80, length >> 14));
    expect(reasonOf(() => decoder.next())).toBe("frame-too-large");
  });

  it("stays failed after an error", () => {
    const decoder = new HttpFrameDecoder();
    decoder.push(hex("02 08 01"));
    expect(reasonOf(() => decoder.next())).toBe("unknown-type");
    decoder.push(encodeFrame({ type: "end", requestId: 1 }));
    expect(reasonOf(() => decoder.next())).toBe("unknown-type");
    expect(reasonOf(() => decoder.finish())).toBe("unknown-type");
  });

  it("never throws anything but HttpFrameError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const decoder = new HttpFrameDecoder();
        decoder.push(bytes);
        try {
          while (decoder.next() !== undefined);
          decoder.finish();
        } catch (error) {
          expect(error).toBeInstanceOf(HttpFrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses to encode what a receiver would refuse", () => {
    const bigHead = { ...validHead, headers: [["a", "b".repeat(MAX_HEAD_BYTES)]] as [string, string][] };
    expect(reasonOf(() => encodeFrame({ type: "request-head", requestId: 1, head: bigHead }))).toBe("head-too-large");
    const manyHeaders = { ...validHead, headers: Array.from({ length: MAX_HEADER_COUNT + 1 }, (): [string, string] => ["a", "b"]) };
    expect(reasonOf(() => encodeFrame({ type: "request-head", requestId: 1, head: manyHeaders }))).toBe("too-many-headers");
    expect(reasonOf(() => encodeFrame({ type: "request-head", requestId: 1, head: { ...validHead, method: "GE T" } }))).toBe("invalid-fields");
    expect(reasonOf(() => encodeFrame({ type: "body", requestId: 1, chunk: new Uint8Array(MAX_BODY_FRAME_BYTES + 1) }))).toBe("body-too-large");
    expect(reasonOf(() => encodeFrame({ type: "end", requestId: 2 ** 32 }))).toBe("bad-request-id");
    expect(reasonOf(() => encodeFrame({ type: "end", requestId: -1 }))).toBe("bad-request-id");
  });
});

/**
 * The head rules as zod schemas: the specification the hand-written checks of http-frames.ts (chosen for
 * speed, they run on every request) are held to. Same rules as docs/protocol.md §5.
 */
const HeadersSchema = z.array(z.tuple([z.string().regex(/^[!#$%&'*+\-.^_`|~0-9a-z]+$/), z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/)]));
const ReferenceRequestHead = z.object({
  method: z.string().max(32).regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/),
  path: z.string().regex(/^\/[\x21-\x7e]*$/),
  headers: HeadersSchema,
  serviceId: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,77})$/)
    // zod runs a refinement even after the regex failed; the old decoder's BigInt then threw a SyntaxError.
    .refine((value) => !/^[0-9]+$/.test(value) || BigInt(value) <= 2n ** 256n - 1n),
  deadline: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  token: z.string().max(4096).regex(/^[\x21-\x7e]+$/).optional(),
});
const ReferenceResponseHead = z.object({ status: z.number().int().min(200).max(599), headers: HeadersSchema });

/** A JSON value near a valid head: fields dropped, swapped for odd values, headers bent out of shape, extra keys. */
const oddValue = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 2 ** 53, "", " ", "GET", "/", "01", "1", String(2n ** 256n), String(2n ** 256n - 1n), [], {}, ["a"], ["a", "b", "c"], ["A", "b"], ["a", "\r\n"], ["a", 1]),
  fc.string({ maxLength: 8 }),
  fc.integer(),
);
const nearRequestHead = fc
  .tuple(requestHead, fc.constantFrom("method", "path", "headers", "serviceId", "deadline", "token", "extra", "none"), oddValue, fc.boolean(), fc.array(oddValue, { maxLength: 3 }))
  .map(([head, field, value, drop, extraPairs]) => {
    const out: Record<string, unknown> = { ...head, headers: [...head.headers, ...extraPairs] };
    if (field === "none") return extraPairs.length > 0 ? out : head;
    if (drop) delete out[field];
    else out[field] = value;
    return out;
  });

describe("head checks", () => {
  it("accept exactly what the reference schemas accept, and return the same fields", () => {
    const decodeHead = (type: number, value: unknown): { ok: true; head: unknown } | { ok: false } => {
      try {
        const decoded = decodeFrame(frameBytes(type, [1], JSON.stringify(value)));
        return { ok: true, head: "head" in decoded ? decoded.head : undefined };
      } catch (error) {
        expect(error).toBeInstanceOf(HttpFrameError);
        return { ok: false };
      }
    };
    fc.assert(
      fc.property(nearRequestHead, (value) => {
        const reference = ReferenceRequestHead.safeParse(value);
        const ours = decodeHead(FRAME_TYPE.requestHead, value);
        expect(ours.ok).toBe(reference.success);
        if (ours.ok && reference.success) {
          const { token, ...rest } = reference.data;
          expect(ours.head).toEqual(token === undefined ? rest : reference.data);
        }
      }),
      { numRuns: 1500 },
    );
    const nearResponseHead = fc.tuple(fc.oneof(fc.integer({ min: 100, max: 700 }), oddValue), fc.array(fc.oneof(headerPair, oddValue), { maxLength: 4 }), fc.boolean());
    fc.assert(
      fc.property(nearResponseHead, ([status, pairs, extra]) => {
        const value = extra ? { status, headers: pairs, trailers: [] } : { status, headers: pairs };
        const reference = ReferenceResponseHead.safeParse(value);
        const ours = decodeHead(FRAME_TYPE.responseHead, value);
        expect(ours.ok).toBe(reference.success);
        if (ours.ok && reference.success) expect(ours.head).toEqual(reference.data);
      }),
      { numRuns: 2000 },
    );
  });

  it("a head encoded once frames to the same bytes as encodeFrame under any request id", () => {
    fc.assert(
      fc.property(requestHead, requestId, (head, id) => {
        const encoded = new EncodedRequestHead(head);
        expect(encodeRequestHeadFrame(id, encoded)).toEqual(encodeFrame({ type: "request-head", requestId: id, head }));
        expect(decodeFrame(encodeRequestHeadFrame(id, encoded))).toEqual({ type: "request-head", requestId: id, head });
      }),
      { numRuns: 300 },
    );
    const bigHead = { ...validHead, headers: [["a", "b".repeat(MAX_HEAD_BYTES)]] as [string, string][] };
    expect(reasonOf(() => new EncodedRequestHead(bigHead))).toBe("head-too-large");
    expect(reasonOf(() => new EncodedRequestHead({ ...validHead, path: "/a b" }))).toBe("invalid-fields");
    expect(reasonOf(() => encodeRequestHeadFrame(2 ** 32, new EncodedRequestHead(validHead)))).toBe("bad-request-id");
  });
});
