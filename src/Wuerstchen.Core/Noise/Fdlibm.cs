namespace Wuerstchen.Core.Noise;

/// <summary>Ports of fdlibm routines, so the serial normal path does not depend on the runtime's math library.</summary>
internal static class Fdlibm
{
    /// <summary>
    /// log(1 + x), a port of glibc's sysdeps/ieee754/dbl-64/s_log1p.c (fdlibm, Sun Microsystems 1993:
    /// "Permission to use, copy, modify, and distribute this software is freely granted, provided that this
    /// notice is preserved."), so the serial path does not depend on the runtime's math library. Longer than ~60 lines
    /// on purpose: it follows the C function branch for branch, so it can be checked against the original.
    /// </summary>
    internal static double Log1p(double x)
    {
        const double Ln2Hi = 6.93147180369123816490e-01; // 3fe62e42 fee00000
        const double Ln2Lo = 1.90821492927058770002e-10; // 3dea39ef 35793c76
        const double Lp1 = 6.666666666666735130e-01;
        const double Lp2 = 3.999999999940941908e-01;
        const double Lp3 = 2.857142874366239149e-01;
        const double Lp4 = 2.222219843214978396e-01;
        const double Lp5 = 1.818357216161805012e-01;
        const double Lp6 = 1.531383769920937332e-01;
        const double Lp7 = 1.479819860511658591e-01;

        int hx = HighWord(x);
        int ax = hx & 0x7fffffff;
        int k = 1, hu = 0;
        double f = 0, c = 0;

        if (hx < 0x3FDA827A) // x < 0.41422
        {
            if (ax >= 0x3ff00000) return x == -1.0 ? double.NegativeInfinity : double.NaN; // x <= -1
            if (ax < 0x3e200000) // |x| < 2^-29
            {
                return ax < 0x3c900000 ? x : x - x * x * 0.5;
            }
            if (hx > 0 || hx <= unchecked((int)0xbfd2bec3))
            {
                k = 0; f = x; hu = 1; // -0.2929 < x < 0.41422
            }
        }
        else if (hx >= 0x7ff00000)
        {
            return x + x;
        }

        if (k != 0)
        {
            double u;
            if (hx < 0x43400000)
            {
                u = 1.0 + x;
                hu = HighWord(u);
                k = (hu >> 20) - 1023;
                c = k > 0 ? 1.0 - (u - x) : x - (u - 1.0); // correction term
                c /= u;
            }
            else
            {
                u = x;
                hu = HighWord(u);
                k = (hu >> 20) - 1023;
                c = 0;
            }
            hu &= 0x000fffff;
            if (hu < 0x6a09e)
            {
                u = WithHighWord(u, hu | 0x3ff00000); // normalize u
            }
            else
            {
                k += 1;
                u = WithHighWord(u, hu | 0x3fe00000); // normalize u/2
                hu = (0x00100000 - hu) >> 2;
            }
            f = u - 1.0;
        }

        double hfsq = 0.5 * f * f;
        double r;
        if (hu == 0) // |f| < 2^-20
        {
            if (f == 0.0)
            {
                if (k == 0) return 0.0;
                c += k * Ln2Lo;
                return k * Ln2Hi + c;
            }
            r = hfsq * (1.0 - 0.66666666666666666 * f);
            return k == 0 ? f - r : k * Ln2Hi - ((r - (k * Ln2Lo + c)) - f);
        }
        double s = f / (2.0 + f);
        double z = s * s;
        double r1 = z * Lp1; double z2 = z * z;
        double r2 = Lp2 + z * Lp3; double z4 = z2 * z2;
        double r3 = Lp4 + z * Lp5; double z6 = z4 * z2;
        double r4 = Lp6 + z * Lp7;
        r = r1 + z2 * r2 + z4 * r3 + z6 * r4;
        if (k == 0) return f - (hfsq - s * (hfsq + r));
        return k * Ln2Hi - ((hfsq - (s * (hfsq + r) + (k * Ln2Lo + c))) - f);

        static int HighWord(double d) => (int)(BitConverter.DoubleToUInt64Bits(d) >> 32);
        static double WithHighWord(double d, int high) =>
            BitConverter.UInt64BitsToDouble(((ulong)(uint)high << 32) | (BitConverter.DoubleToUInt64Bits(d) & 0xFFFFFFFFUL));
    }
}
