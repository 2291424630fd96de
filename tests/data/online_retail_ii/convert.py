"""UCI Online Retail II (sheet "Year 2009-2010") -> portrait's canonical orders and order_items.

Run from the repository root:
    python3 tests/data/online_retail_ii/convert.py PATH/online_retail_ii_2009_2010.parquet
(the UCI sheet "Year 2009-2010" saved as Parquet, sha256 e92bcbbc…6330664)
Conversion: lines without a customer are dropped; one order per invoice (source `uk_shop`,
order_id = Invoice, source_customer_id = Customer ID, order_ts = the invoice's first
InvoiceDate, status `cancelled` for invoices starting with `C`, else `paid`, net_amount = the
absolute sum of Quantity x Price); one order line per invoice line (sku = StockCode, category =
its first three characters, quantity and unit_price as absolute values, so cancellations' lines
are not quarantined for a negative quantity; they belong to a cancelled order and are never used).
"""
import sys
import polars as pl

src = pl.read_parquet(sys.argv[1]).filter(pl.col("Customer ID").is_not_null())
src = src.with_columns(pl.col("Customer ID").cast(pl.Int64).cast(pl.Utf8).alias("cid"))
orders = (
    src.group_by("Invoice", maintain_order=True)
    .agg(
        pl.col("cid").first(),
        pl.col("InvoiceDate").min().alias("order_ts"),
        (pl.col("Quantity") * pl.col("Price")).sum().abs().round(2).alias("net_amount"),
    )
    .select(
        pl.lit("uk_shop").alias("source"),
        pl.col("Invoice").alias("order_id"),
        pl.col("cid").alias("source_customer_id"),
        "order_ts",
        pl.lit("online").alias("channel"),
        pl.when(pl.col("Invoice").str.starts_with("C")).then(pl.lit("cancelled")).otherwise(pl.lit("paid")).alias("status"),
        "net_amount",
    )
)
items = src.select(
    pl.lit("uk_shop").alias("source"),
    pl.col("Invoice").alias("order_id"),
    pl.col("StockCode").alias("sku"),
    pl.col("StockCode").str.slice(0, 3).alias("category"),
    pl.col("Quantity").abs().cast(pl.Int32).alias("quantity"),
    pl.col("Price").abs().alias("unit_price"),
)
orders.write_parquet("tests/data/online_retail_ii/orders.parquet", compression="zstd", compression_level=19)
items.write_parquet("tests/data/online_retail_ii/order_items.parquet", compression="zstd", compression_level=19)
print(orders.height, "orders,", items.height, "lines")
