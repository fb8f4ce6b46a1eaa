// The package ships types its package.json "exports" do not point at (moduleResolution Bundler misses them).
declare module "dom-accessibility-api" {
  /** The accessible name of an element, per the ARIA accname algorithm. */
  export function computeAccessibleName(element: Element): string;
}
