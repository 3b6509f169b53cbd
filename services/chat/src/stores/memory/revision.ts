/** The lobby revision counter shared by the memory room and presence stores. */
export class Revision {
  private value = 0;
  next(): number {
    return ++this.value;
  }
  current(): number {
    return this.value;
  }
}
