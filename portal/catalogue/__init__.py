"""Responsibility catalogue (权责清单) and the dispatch lookup (权属查询).

Item types of the two classification schemes, agencies, the area tree with grid polygons,
duties and powers, and ``resolve(item_type, place, at)``: who owns, maintains, supervises and
enforces against an item at a place on a date, on what legal basis and within what time limit.
"""
