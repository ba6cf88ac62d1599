#!/bin/sh
# Load the sample records of examples/lookup.yaml into Redis, without scriptsync.
#
#   examples/redis-seed.sh                      # hashes, for lookup.redis.format: hash
#   FORMAT=json examples/redis-seed.sh          # JSON strings, for format: json
#   REDIS_URL=redis://:secret@10.0.0.5:6379/2 examples/redis-seed.sh
#
# The three keys are overwritten; nothing else is touched.
set -eu

url=${REDIS_URL:-redis://127.0.0.1:6379/0}
format=${FORMAT:-hash}
cli() { redis-cli -u "$url" "$@" >/dev/null; }

case $format in
hash)
	# DEL first so a field removed from the sample does not linger from an earlier seed.
	cli DEL "customer:+14155550123" "customer:+14155550199" \
		"contact:d6e7f8a9-b0c1-4d2e-9f3a-4b5c6d7e8f9a"
	cli HSET "customer:+14155550123" customer_name "Ada Lovelace" cust_tier gold \
		open_case CS-10482 account_flags vip,paperless
	cli HSET "customer:+14155550199" customer_name "Grace Hopper" cust_tier silver \
		account_flags new_customer
	cli HSET "contact:d6e7f8a9-b0c1-4d2e-9f3a-4b5c6d7e8f9a" customer_name "Grace Hopper" \
		cust_tier silver account_flags new_customer
	;;
json)
	cli SET "customer:+14155550123" '{"customer_name":"Ada Lovelace","cust_tier":"gold","open_case":"CS-10482","account_flags":["vip","paperless"]}'
	cli SET "customer:+14155550199" '{"customer_name":"Grace Hopper","cust_tier":"silver","account_flags":["new_customer"]}'
	cli SET "contact:d6e7f8a9-b0c1-4d2e-9f3a-4b5c6d7e8f9a" '{"customer_name":"Grace Hopper","cust_tier":"silver","account_flags":["new_customer"]}'
	;;
*)
	echo "FORMAT must be hash or json" >&2
	exit 2
	;;
esac
echo "seeded 3 sample records ($format)" >&2
