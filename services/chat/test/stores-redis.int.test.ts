import { createRedisStores } from "../src/stores/redis/index.js";
import { RedisKeys } from "../src/stores/redis/keys.js";
import { describeStoreContract } from "./store-contract.js";
import { testRedis, uniquePrefix } from "./support/redis-client.js";

const redis = testRedis();
describeStoreContract("redis", async () => createRedisStores(redis, new RedisKeys(uniquePrefix("stores"))));
