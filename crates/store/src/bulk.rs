//! Bulk inserts for load benchmarks and demo data: many rows per statement,
//! the same SQL on both backends. Nothing here is used to serve requests;
//! the rows must already follow every rule the operations keep (ids,
//! closure rows, derived columns, one version row per document).

use crate::db::Tx;
use crate::error::Result;
use crate::exec_tx;

/// One value of a bulk row.
#[derive(Debug, Clone)]
pub enum Val {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

/// Inserts `rows` into `table` (columns `cols`), `per_statement` rows at a
/// time. Returns how many rows went in.
pub async fn insert(
    tx: &mut Tx,
    table: &str,
    cols: &[&str],
    rows: &[Vec<Val>],
    per_statement: usize,
) -> Result<u64> {
    let mut total = 0;
    let per = per_statement.max(1);
    for chunk in rows.chunks(per) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..cols.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&tx.param(n));
            }
            sql.push(')');
        }
        total += exec_tx!(tx, |c| {
            let mut q = sqlx::query(&sql);
            for row in chunk {
                for v in row {
                    q = match v {
                        Val::Text(s) => q.bind(s.as_str()),
                        Val::OptText(s) => q.bind(s.as_deref()),
                        Val::Int(i) => q.bind(*i),
                        Val::OptInt(i) => q.bind(*i),
                        Val::Bool(b) => q.bind(*b),
                    };
                }
            }
            q.execute(c).await
        })?;
    }
    Ok(total)
}

/// Runs one statement with `vals` bound in order; returns rows affected.
pub async fn exec(tx: &mut Tx, sql: &str, vals: &[Val]) -> Result<u64> {
    exec_tx!(tx, |c| {
        let mut q = sqlx::query(sql);
        for v in vals {
            q = match v {
                Val::Text(s) => q.bind(s.as_str()),
                Val::OptText(s) => q.bind(s.as_deref()),
                Val::Int(i) => q.bind(*i),
                Val::OptInt(i) => q.bind(*i),
                Val::Bool(b) => q.bind(*b),
            };
        }
        q.execute(c).await
    })
    .map_err(Into::into)
}
