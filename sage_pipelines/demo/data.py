"""Three weekly uploads of the demo casilla, generated deterministically.

Week 2 changes some clients' credit limits and product prices and re-sends a corrected week 1
with week 2; week 3 brings new clients and only week 3. That exercises upsert (updates +
inserts) and delete_insert by week (replaced weeks) in a way the summary makes visible.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

CITIES = ["Lima", "Cusco", "Arequipa", "Trujillo", "Piura", "Iquitos", "Chiclayo", "Tacna"]
CATEGORIES = ["Higiene", "Limpieza", "Bebidas", "Lácteos", "Snacks"]
NAMES = ["Bodega Doña Ñuña", "Minimarket \"El Sol\"", "Comercial Año Nuevo, S.A.", "Tienda La Económica",
         "Distribuidora Andina", "Market 24/7", "Abarrotes Rosita", "Bazar O'Higgins"]


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(["" if v is None else v for v in r] for r in rows)


def _clientes(rng: random.Random, ids: range, bump: bool) -> list[list[object]]:
    rows = []
    for i in ids:
        limit = Decimal(rng.randrange(50_000, 5_000_000)) / 100
        if bump and i % 5 == 0:
            limit += Decimal("1000.00")
        rows.append([f"{i:06d}", f"{NAMES[i % len(NAMES)]} #{i}", CITIES[i % len(CITIES)] if i % 17 else None,
                     limit, "si" if i % 9 else "no", dt.date(2020, 1, 1) + dt.timedelta(days=i * 3)])
    return rows


def _productos(rng: random.Random, bump: bool) -> list[list[object]]:
    rows = []
    for i in range(1, 81):
        price = Decimal(rng.randrange(150, 9_999)) / 100
        if bump and i % 4 == 0:
            price += Decimal("0.50")
        rows.append([f"P{i:04d}", f"Producto {i}", CATEGORIES[i % len(CATEGORIES)], price])
    return rows


def _ventas(rng: random.Random, week: int, n: int, clients: int) -> list[list[object]]:
    monday = dt.date(2026, 1, 5) + dt.timedelta(weeks=week - 1)
    rows = []
    for k in range(n):
        qty = rng.randrange(1, 50)
        price = Decimal(rng.randrange(150, 9_999)) / 100
        rows.append([f"V{week:02d}-{k:05d}", week, monday + dt.timedelta(days=k % 6),
                     f"{rng.randrange(1, clients + 1):06d}", f"P{rng.randrange(1, 81):04d}",
                     qty, price, price * qty])
    return rows


def write_week(folder: Path, week: int) -> Path:
    """Write week 1, 2 or 3's clientes.csv, productos.csv and ventas.csv into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    clients = {1: range(1, 301), 2: range(1, 331), 3: range(250, 401)}[week]
    _write(folder / "clientes.csv", ["codigo_cliente", "nombre", "ciudad", "limite_credito", "activo", "fecha_alta"],
           _clientes(random.Random(1000 + min(week, 1)), clients, bump=week >= 2))
    _write(folder / "productos.csv", ["codigo_producto", "nombre", "categoria", "precio"],
           _productos(random.Random(2000), bump=week == 2))
    ventas: list[list[object]] = []
    if week == 2:  # a corrected week 1 (fewer rows) travels with week 2
        ventas += _ventas(random.Random(4001), 1, 1_800, 300)
    ventas += _ventas(random.Random(3000 + week), week, 2_000, clients.stop - 1)
    _write(folder / "ventas.csv", ["id_venta", "semana", "fecha", "codigo_cliente", "codigo_producto",
                                   "cantidad", "precio_unitario", "total"], ventas)
    return folder
