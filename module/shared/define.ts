/** Version stamped on every v-SuperCore element class, so a second copy of the module can tell whether it is the same build. */
export const VSC_VERSION = '0.1.0';

interface VersionedConstructor extends CustomElementConstructor {
  readonly vscVersion?: string;
}

/**
 * Defines a custom element, tolerating the tag being defined already (the module loaded twice, e.g. by the shell
 * and by a workspace parcel). Same class or same version: nothing to do. Another version: the first definition
 * stays (the registry cannot be changed) and a warning says so.
 */
export function define(tag: string, ctor: VersionedConstructor): void {
  const existing = customElements.get(tag) as VersionedConstructor | undefined;
  if (!existing) {
    customElements.define(tag, ctor);
    return;
  }
  if (existing === ctor || existing.vscVersion === ctor.vscVersion) return;
  console.warn(
    `v-supercore: <${tag}> is already defined by version ${existing.vscVersion ?? 'unknown'}; ` +
      `version ${ctor.vscVersion ?? 'unknown'} will use that definition.`,
  );
}
