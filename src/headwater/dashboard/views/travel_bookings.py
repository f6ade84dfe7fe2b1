"""Travel bookings (seed 000): the daily booking summary, passenger mix, modes, carriers."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from headwater.dashboard import fmt, queries, ui

PIPELINE = "travel_bookings"
TITLE = "Travel bookings"


def render() -> None:
    st.title(TITLE)
    ui.sidebar()
    (missing,) = ui.fetch(("missing_tables", queries.TRAVEL_TABLES))
    if missing:
        ui.not_run_yet(PIPELINE, TITLE, missing)
        return
    lo, hi = ui.fetch_one("travel_date_bounds")
    if lo is None:
        st.info(
            "**No bookings yet.** The pipeline has run, but the source had no bookings.",
            icon=":material/hourglass_empty:",
        )
        return
    st.caption(
        "By booking date (the day a booking was made). Revenue and prices are in EUR and leave "
        "out cancelled bookings; volumes count every booking."
    )
    start, end = ui.date_range("Booking dates", lo, hi, key="travel-dates")
    daily, totals, mix, modes = ui.fetch(
        ("daily_bookings", start, end),
        ("booking_totals", start, end),
        ("passenger_mix", start, end),
        ("travel_mode_split", start, end),
    )
    if daily.empty:
        st.info("No bookings were made in the chosen dates.", icon=":material/event_busy:")
        return
    _kpis(totals, daily)
    _daily_charts(daily)
    left, right = st.columns(2)
    with left:
        _passenger_mix(mix)
    with right:
        _mode_split(modes)
    _carriers(start, end)
    with st.expander("Daily numbers (the booking summary)"):
        st.dataframe(
            daily,
            hide_index=True,
            width="stretch",
            column_config={
                "booking_date": st.column_config.DateColumn("booking date", format="YYYY-MM-DD"),
                "revenue_eur": st.column_config.NumberColumn("revenue (EUR)", format="€ %.2f"),
                "avg_ticket_price_eur": st.column_config.NumberColumn("avg ticket (EUR)", format="€ %.2f"),
                "cancelled_bookings": st.column_config.NumberColumn("cancelled"),
            },
        )


def _kpis(totals: dict, daily: pd.DataFrame) -> None:
    c = st.columns(5)
    bookings = int(totals["bookings"] or 0)
    c[0].metric(
        "Bookings",
        fmt.count(bookings),
        help="Bookings made in the chosen dates, cancelled ones included",
        chart_data=daily["bookings"].tolist(),
        chart_type="bar",
        border=True,
    )
    c[1].metric(
        "Tickets",
        fmt.count(totals["tickets"]),
        help="Tickets issued in those bookings (one per passenger)",
        chart_data=daily["tickets"].tolist(),
        chart_type="bar",
        border=True,
    )
    c[2].metric(
        "Revenue",
        fmt.money(totals["revenue_eur"]),
        help=f"{fmt.money(totals['revenue_eur'], cents=True)}: tickets of bookings not cancelled, in EUR",
        chart_data=daily["revenue_eur"].tolist(),
        chart_type="area",
        border=True,
    )
    c[3].metric(
        "Average ticket price",
        fmt.money(totals["avg_ticket_price_eur"], cents=True),
        help="Mean EUR price of a ticket in a booking that is not cancelled",
        chart_data=daily["avg_ticket_price_eur"].fillna(0).tolist(),
        border=True,
    )
    cancelled = int(totals["cancelled_bookings"] or 0)
    c[4].metric(
        "Cancelled",
        fmt.percent(cancelled / bookings if bookings else None),
        help=f"{fmt.count(cancelled)} of {fmt.count(bookings)} bookings were cancelled",
        chart_data=daily["cancelled_bookings"].tolist(),
        chart_type="bar",
        border=True,
    )


def _daily_charts(daily: pd.DataFrame) -> None:
    base = alt.Chart(daily).encode(
        x=alt.X("booking_date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0))
    )
    volumes = daily.melt(
        id_vars="booking_date", value_vars=["bookings", "tickets"], var_name="what", value_name="count"
    )
    left, right = st.columns(2)
    with left:
        st.subheader("Bookings and tickets per day", anchor=False)
        chart = (
            alt.Chart(volumes)
            .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="monotone")
            .encode(
                x=alt.X("booking_date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
                y=alt.Y("count:Q", title=None),
                color=alt.Color(
                    "what:N",
                    title=None,
                    scale=alt.Scale(domain=["bookings", "tickets"], range=["#3b6fb6", "#e8912d"]),
                    legend=alt.Legend(orient="top"),
                ),
                tooltip=[
                    alt.Tooltip("booking_date:T", title="day", format="%a %d %b %Y"),
                    alt.Tooltip("what:N", title=""),
                    alt.Tooltip("count:Q", format=","),
                ],
            )
            .properties(height=260)
        )
        st.altair_chart(chart, width="stretch")
    with right:
        st.subheader("Revenue and average price per day", anchor=False)
        bars = base.mark_bar(color="#8cb6e6", opacity=0.9).encode(
            y=alt.Y("revenue_eur:Q", title="revenue (EUR)", axis=alt.Axis(format=",.0f", tickCount=5)),
            tooltip=[
                alt.Tooltip("booking_date:T", title="day", format="%a %d %b %Y"),
                alt.Tooltip("revenue_eur:Q", title="revenue (EUR)", format=",.2f"),
                alt.Tooltip("avg_ticket_price_eur:Q", title="average ticket (EUR)", format=",.2f"),
            ],
        )
        line = base.mark_line(color="#c0392b", strokeWidth=2, interpolate="monotone").encode(
            y=alt.Y(
                "avg_ticket_price_eur:Q",
                title="average ticket (EUR)",
                axis=alt.Axis(titleColor="#c0392b", format=",.0f"),
            ),
        )
        chart = alt.layer(bars, line).resolve_scale(y="independent").properties(height=260)
        st.altair_chart(chart, width="stretch")


def _donut(df: pd.DataFrame, field: str, value: str, colours: dict[str, str], title: str) -> alt.Chart:
    domain = [k for k in colours if k in set(df[field])] + sorted(set(df[field]) - set(colours))
    return (
        alt.Chart(df)
        .mark_arc(innerRadius=60, stroke="white")
        .encode(
            theta=alt.Theta(f"{value}:Q"),
            color=alt.Color(
                f"{field}:N",
                title=title,
                scale=alt.Scale(domain=domain, range=[colours.get(d, "#999999") for d in domain]),
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[
                alt.Tooltip(f"{field}:N", title=title),
                alt.Tooltip(f"{value}:Q", format=","),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(height=240)
    )


def _passenger_mix(mix: pd.DataFrame) -> None:
    st.subheader("Passenger mix", anchor=False)
    if mix.empty:
        st.caption("No passengers in these bookings.")
        return
    st.altair_chart(_donut(mix, "passenger_type", "passengers", ui.PASSENGER_COLOURS, "passenger"))
    st.caption(
        " · ".join(
            f"**{r.passenger_type}** {fmt.count(r.passengers)} ({fmt.percent(r.share)})"
            for r in mix.itertuples()
        )
    )


def _mode_split(modes: pd.DataFrame) -> None:
    st.subheader("Travel-mode split", anchor=False)
    if modes.empty:
        st.caption("No segments in these bookings.")
        return
    total_revenue = modes["revenue_eur"].sum()
    df = modes.assign(
        share=modes["segment_share"],
        revenue_share=modes["revenue_eur"] / total_revenue if total_revenue else 0.0,
    )
    st.altair_chart(_donut(df, "travel_mode", "segments", ui.MODE_COLOURS, "mode"))
    st.caption(
        " · ".join(
            f"**{r.travel_mode}** {fmt.count(r.segments)} segments ({fmt.percent(r.segment_share)}), "
            f"{fmt.money(r.revenue_eur, cents=False)} revenue"
            for r in df.itertuples()
        )
    )


def _carriers(start, end) -> None:
    st.subheader("Top carriers by revenue", anchor=False)
    choice = st.segmented_control(
        "Travel mode",
        ["all modes", *ui.MODE_COLOURS],
        default="all modes",
        key="travel-carrier-mode",
        label_visibility="collapsed",
    )
    mode = None if choice in (None, "all modes") else choice
    carriers = ui.fetch_one("carriers_by_revenue", start, end, 10, mode)
    st.caption("A ticket's price is split equally over the segments it covers.")
    if carriers.empty:
        st.caption("No revenue in these bookings.")
        return
    order = carriers["carrier_name"].tolist()
    bars = (
        alt.Chart(carriers)
        .mark_bar(cornerRadiusTopRight=3, cornerRadiusBottomRight=3)
        .encode(
            y=alt.Y("carrier_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=240)),
            x=alt.X("revenue_eur:Q", title="revenue (EUR)", axis=alt.Axis(format=",.0f", tickCount=6)),
            color=alt.Color(
                "travel_mode:N",
                title="mode",
                scale=alt.Scale(domain=list(ui.MODE_COLOURS), range=list(ui.MODE_COLOURS.values())),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("carrier_name:N", title="carrier"),
                alt.Tooltip("travel_mode:N", title="mode"),
                alt.Tooltip("revenue_eur:Q", title="revenue (EUR)", format=",.2f"),
                alt.Tooltip("tickets:Q", format=","),
                alt.Tooltip("segments:Q", format=","),
            ],
        )
    )
    labels = bars.mark_text(align="left", dx=4, color="#444").encode(
        text=alt.Text("revenue_eur:Q", format=",.0f"), color=alt.value("#444")
    )
    st.altair_chart(alt.layer(bars, labels).properties(height=alt.Step(30)), width="stretch")


if __name__ == "__main__":
    render()
