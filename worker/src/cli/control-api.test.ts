import { describe, expect, it } from "vitest";
import { NodeUnreachableError } from "../errors.ts";
import { controlApiFailure } from "./control-api.ts";

const API = "http://127.0.0.1:4663";

describe("controlApiFailure", () => {
  it("recognises a gateway's 404 (the wrong port) and says where the control API is", async () => {
    const gateway404 = new Response(JSON.stringify({ error: "not-found", reason: "URL outside /svc/", serviceId: null }), { status: 404 });
    const error = await controlApiFailure(gateway404, API, "the node does not run X");
    expect(error).toBeInstanceOf(NodeUnreachableError);
    expect(error.shortMessage).toBe(`${API} is a node's gateway, not its control API (another port, default 4662; \`dsmp node status\` prints both)`);
  });

  it("uses the caller's 404 message for the control API's own 404, and the status otherwise", async () => {
    const api404 = () => new Response(JSON.stringify({ error: "API_NOT_FOUND", message: "no route" }), { status: 404 });
    expect((await controlApiFailure(api404(), API, "the node does not run X")).shortMessage).toBe("the node does not run X");
    expect((await controlApiFailure(api404(), API)).shortMessage).toBe(`the control API at ${API} answered 404`);
    const failed = await controlApiFailure(new Response("<html>oops</html>", { status: 500 }), API, "unused");
    expect(failed.shortMessage).toBe(`the control API at ${API} answered 500`);
    expect(failed.details).toBe("<html>oops</html>");
  });
});
