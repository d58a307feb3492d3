/** The site's time zone when the settings name none (gateway.timezone): written once, here. */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
