/** The shell: skip link, header (wallet, node indicator), navigation, and the page for the current route. */
import { NodeIndicator } from "./components/node-indicator.tsx";
import { WalletBar } from "./components/wallet-bar.tsx";
import { LeasesPage } from "./pages/leases-page.tsx";
import { NetworkPage } from "./pages/network-page.tsx";
import { OperatePage } from "./pages/operate-page.tsx";
import { ServicePage } from "./pages/service-page.tsx";
import { ServicesPage } from "./pages/services-page.tsx";
import { TasksPage } from "./pages/tasks-page.tsx";
import { Link, useRoute, type Route } from "./router.tsx";

const NAV: { to: string; label: string; pages: Route["page"][] }[] = [
  { to: "/", label: "Services", pages: ["services", "service"] },
  { to: "/operate", label: "Operate", pages: ["operate"] },
  { to: "/leases", label: "Leases", pages: ["leases"] },
  { to: "/tasks", label: "Tasks", pages: ["tasks"] },
  { to: "/network", label: "Network", pages: ["network"] },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "services":
      return <ServicesPage />;
    case "service":
      return <ServicePage id={route.id} />;
    case "operate":
      return <OperatePage />;
    case "leases":
      return <LeasesPage />;
    case "tasks":
      return <TasksPage />;
    case "network":
      return <NetworkPage />;
    case "not-found":
      return (
        <section>
          <h1>Not found</h1>
          <p>
            Nothing at <code>{route.path}</code>. <Link to="/">Back to services</Link>
          </p>
        </section>
      );
  }
}

export function App() {
  const route = useRoute();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <div className="brand">DSMP</div>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={n.pages.includes(route.page) ? "page" : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <WalletBar />
      </header>
      <NodeIndicator />
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}
