/** Entry: ask the serving node for the chain config, then mount wagmi + react-query + the app. */
import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { WagmiProvider } from "wagmi";
import { App } from "./app.tsx";
import { createDsmpContextValue, DsmpContext } from "./dsmp-context.tsx";
import "./styles.css";
import { createDsmpWagmiConfig, createQueryClient } from "./wagmi-config.ts";
import { fetchWebConfig, nodeApiBase } from "./web-config.ts";

const root = createRoot(document.getElementById("root")!);
const apiBase = nodeApiBase(window.location);

async function boot(): Promise<void> {
  try {
    const web = await fetchWebConfig(apiBase);
    const wagmi = createDsmpWagmiConfig(web);
    const queryClient = createQueryClient();
    root.render(
      <StrictMode>
        <WagmiProvider config={wagmi}>
          <QueryClientProvider client={queryClient}>
            <DsmpContext value={createDsmpContextValue(web, apiBase)}>
              <App />
            </DsmpContext>
          </QueryClientProvider>
        </WagmiProvider>
      </StrictMode>,
    );
  } catch (err) {
    root.render(
      <main className="boot-error">
        <h1>DSMP</h1>
        <p role="alert">
          Cannot load the chain configuration from the node at <code>{apiBase}</code>: {(err as Error).message}
        </p>
        <button type="button" onClick={() => void boot()}>
          Retry
        </button>
      </main>,
    );
  }
}

void boot();
