/** Pointer helpers of the viewer: pure functions, so they are tested without a desktop. */

export interface Size {
  width: number;
  height: number;
}

export interface BoxRect extends Size {
  left: number;
  top: number;
}

/**
 * Maps a pointer position on the canvas element to a framebuffer pixel. The canvas is drawn with
 * `object-fit: contain`, so the picture is scaled uniformly and centred, with bars on two sides; positions on
 * the bars clamp to the nearest edge pixel. Null before the framebuffer size is known.
 */
export function mapToFramebuffer(
  clientX: number,
  clientY: number,
  box: BoxRect,
  framebuffer: Size,
): { x: number; y: number } | null {
  if (framebuffer.width <= 0 || framebuffer.height <= 0 || box.width <= 0 || box.height <= 0) return null;
  const scale = Math.min(box.width / framebuffer.width, box.height / framebuffer.height);
  const offsetX = (box.width - framebuffer.width * scale) / 2;
  const offsetY = (box.height - framebuffer.height * scale) / 2;
  const x = Math.floor((clientX - box.left - offsetX) / scale);
  const y = Math.floor((clientY - box.top - offsetY) / scale);
  return { x: clamp(x, 0, framebuffer.width - 1), y: clamp(y, 0, framebuffer.height - 1) };
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/**
 * DOM `MouseEvent.buttons` (bit 0 primary, 1 secondary, 2 auxiliary) → RFB button mask (bit 0 left, 1 middle,
 * 2 right). The back/forward buttons (DOM bits 3, 4) have no RFB meaning here and are dropped.
 */
export function rfbButtons(domButtons: number): number {
  return (domButtons & 1) | (domButtons & 4 ? 2 : 0) | (domButtons & 2 ? 4 : 0);
}

/** RFB mask bits of the wheel "buttons": pressed and released once per step. */
export const WheelButton = { Up: 1 << 3, Down: 1 << 4, Left: 1 << 5, Right: 1 << 6 } as const;

/** Pixels of scrolling per wheel step (noVNC uses the same), and a line's height for `deltaMode` 1. */
const WHEEL_STEP = 50;
const LINE_HEIGHT = 19;
/** At most this many steps per event, so a fling does not flood the desktop. */
const MAX_STEPS = 10;

/**
 * Turns wheel deltas into whole wheel steps, carrying the remainder, so a trackpad's many small deltas scroll
 * as much as a mouse's notches.
 */
export class WheelAccumulator {
  private x = 0;
  private y = 0;

  /** The wheel buttons to click, in order, for one wheel event. */
  push(event: Pick<WheelEvent, 'deltaX' | 'deltaY' | 'deltaMode'>, pageSize: Size): number[] {
    const factor = event.deltaMode === 1 ? LINE_HEIGHT : 1;
    this.x += event.deltaMode === 2 ? event.deltaX * pageSize.width : event.deltaX * factor;
    this.y += event.deltaMode === 2 ? event.deltaY * pageSize.height : event.deltaY * factor;
    const clicks: number[] = [];
    this.y = drain(this.y, WheelButton.Up, WheelButton.Down, clicks);
    this.x = drain(this.x, WheelButton.Left, WheelButton.Right, clicks);
    return clicks;
  }

  reset(): void {
    this.x = 0;
    this.y = 0;
  }
}

function drain(total: number, negative: number, positive: number, clicks: number[]): number {
  let steps = Math.trunc(total / WHEEL_STEP);
  const rest = total - steps * WHEEL_STEP;
  steps = clamp(steps, -MAX_STEPS, MAX_STEPS);
  for (let i = 0; i < Math.abs(steps); i++) clicks.push(steps < 0 ? negative : positive);
  return rest;
}
