import { describe, expect, it } from "vitest";
import { bucketDelta, histogramBuckets, histogramQuantile, parsePrometheusText, sumCounter } from "./prometheus-text.ts";

const TEXT = `# HELP dsmp_gateway_request_seconds Gateway
# TYPE dsmp_gateway_request_seconds histogram
dsmp_gateway_request_seconds_bucket{le="0.001",service="1"} 0
dsmp_gateway_request_seconds_bucket{le="0.01",service="1"} 50
dsmp_gateway_request_seconds_bucket{le="0.1",service="1"} 90
dsmp_gateway_request_seconds_bucket{le="+Inf",service="1"} 100
dsmp_gateway_request_seconds_bucket{le="0.001",service="2"} 0
dsmp_gateway_request_seconds_bucket{le="0.01",service="2"} 0
dsmp_gateway_request_seconds_bucket{le="0.1",service="2"} 0
dsmp_gateway_request_seconds_bucket{le="+Inf",service="2"} 0
dsmp_gateway_requests_total{service="1",status_class="2xx"} 98
dsmp_gateway_requests_total{service="1",status_class="5xx"} 2
dsmp_p2p_peers 4
weird{label="a \\"quoted\\" value"} 1
`;

describe("prometheus text", () => {
  const samples = parsePrometheusText(TEXT);

  it("parses samples with labels, skipping comments", () => {
    expect(samples).toHaveLength(12);
    expect(samples.at(-1)).toEqual({ name: "weird", labels: { label: 'a "quoted" value' }, value: 1 });
    expect(sumCounter(samples, "dsmp_gateway_requests_total")).toBe(100);
    expect(sumCounter(samples, "dsmp_gateway_requests_total", { status_class: "5xx" })).toBe(2);
    expect(sumCounter(samples, "dsmp_p2p_peers")).toBe(4);
  });

  it("estimates quantiles like histogram_quantile", () => {
    const buckets = histogramBuckets(samples, "dsmp_gateway_request_seconds");
    expect(buckets.map((b) => b.count)).toEqual([0, 50, 90, 100]);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.01);
    expect(histogramQuantile(0.25, buckets)).toBeCloseTo(0.001 + 0.009 * 0.5);
    expect(histogramQuantile(0.95, buckets)).toBe(0.1); // in +Inf: the highest finite bound
    expect(histogramQuantile(0.5, histogramBuckets(samples, "dsmp_gateway_request_seconds", { service: "2" }))).toBeUndefined();
  });

  it("subtracts an earlier scrape", () => {
    const now = [{ le: 0.01, count: 10 }, { le: Infinity, count: 12 }];
    expect(bucketDelta(now, [{ le: 0.01, count: 4 }, { le: Infinity, count: 5 }])).toEqual([{ le: 0.01, count: 6 }, { le: Infinity, count: 7 }]);
    expect(bucketDelta(now, undefined)).toBe(now);
  });
});
