/** One problem found in a settings file: where (key path, line) and what. Its own module so the checks need not import the loader. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
  line?: number;
  col?: number;
  /**
   * A problem the running gateway contains by itself (a model that cannot load fails only
   * its cameras, marked "detector failed"): `gateway check` refuses it, `gateway run`
   * starts anyway and logs it when asked to (`contain`).
   */
  containable?: boolean;
}
