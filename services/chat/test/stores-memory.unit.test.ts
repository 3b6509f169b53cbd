import { createMemoryStores } from "../src/stores/memory/index.js";
import { describeStoreContract } from "./store-contract.js";

describeStoreContract("memory", async () => createMemoryStores());
